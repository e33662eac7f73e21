import { NanoclawError } from '../../errors.js';

/** Stable codes of the HTTP API's errors, beside the product's own (UNKNOWN_PROVIDER, ...). */
export type HttpErrorCode =
  | 'UNAUTHORIZED'
  | 'FORBIDDEN_ORIGIN'
  | 'FORBIDDEN_HOST'
  | 'INVALID_REQUEST'
  | 'INVALID_JSON'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'INVALID_SIGNATURE'
  | 'NOT_CONFIGURED'
  | 'CONFLICT'
  | 'INTERNAL';

/** An error the API answers with `{error: {code, message}}` and this status. */
export class HttpError extends NanoclawError {
  constructor(
    readonly status: number,
    code: HttpErrorCode | string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(code, message, options);
  }
}

/** Statuses for the product's own error codes when they reach the API. */
const STATUS_BY_CODE: Record<string, number> = {
  INVALID_NAME: 400,
  USAGE: 400,
  UNKNOWN_PROVIDER: 404,
  UNKNOWN_SKILL: 404,
  CONNECTION_NOT_FOUND: 404,
  NOTHING_TO_AUTHORIZE: 409,
  // A source's webhook refused before anything changed.
  INVALID_SIGNATURE: 401,
  INVALID_JSON: 400,
  INVALID_REQUEST: 400,
  WEBHOOK_REPLAYED: 409,
  INVALID_MANIFEST: 409,
  TOKEN_SOURCE_UNAVAILABLE: 502,
  TOKEN_SOURCE_CONFIG: 502,
  INVALID_SOURCE_RESPONSE: 502,
  // The provider's authorization server could not be reached or trusted: a bad gateway, not our fault.
  DISCOVERY_FAILED: 502,
  DOCKER_UNAVAILABLE: 503,
  SHUTTING_DOWN: 503,
  IMAGE_NOT_FOUND: 503,
};

/** The HTTP status for any error a handler threw. */
export function statusForError(error: unknown): number {
  if (error instanceof HttpError) return error.status;
  if (error instanceof NanoclawError) return STATUS_BY_CODE[error.code] ?? 500;
  return 500;
}
