import { parseRetryAfter } from '../retry-after.js';
import { cleanProviderError, type OAuthFailure, type OAuthFailureKind } from './map-oauth-error.js';
import type { TokenResponse } from './oauth-protocol.js';

/**
 * Lark's own error codes of the v2 token endpoint that say more than its OAuth `error` string:
 * which end a refresh token came to, and which trouble passes. Codes not listed here are sorted by
 * their `error` string and HTTP status, like any OAuth server's.
 */
export const LARK_TOKEN_ERRORS: Readonly<
  Record<number, { kind: OAuthFailureKind; refusal?: OAuthFailure['refusal']; meaning: string }>
> = {
  20026: { kind: 'invalid_grant', refusal: 'invalid', meaning: 'refresh token invalid' },
  20037: { kind: 'invalid_grant', refusal: 'expired', meaning: 'refresh token expired' },
  20050: { kind: 'transient', meaning: 'server error' },
  20064: { kind: 'invalid_grant', refusal: 'revoked', meaning: 'refresh token revoked' },
  20073: { kind: 'invalid_grant', refusal: 'reused', meaning: 'refresh token already used' },
};

const STANDARD_KINDS: Readonly<Record<string, OAuthFailureKind>> = {
  invalid_grant: 'invalid_grant',
  invalid_client: 'configuration',
  unauthorized_client: 'configuration',
  unsupported_grant_type: 'configuration',
  invalid_scope: 'configuration',
  invalid_request: 'refused',
  server_error: 'transient',
  temporarily_unavailable: 'transient',
};

/** What a Lark token endpoint answered: status, the Retry-After header and the body, parsed or not. */
export interface LarkTokenAnswer {
  status: number;
  retryAfter: string | null;
  /** The parsed JSON body; undefined when the body was not JSON. */
  body: unknown;
}

function record(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

function larkCodeOf(body: Record<string, unknown> | null): number | null {
  const code = body?.code;
  if (typeof code === 'number' && Number.isSafeInteger(code)) return code;
  if (typeof code === 'string' && /^\d{1,9}$/.test(code)) return Number(code);
  return null;
}

function failure(kind: OAuthFailureKind, description: string, status: number | null): OAuthFailure {
  return { kind, providerError: null, status, retryAfterMs: null, description };
}

/**
 * Reads one answer of Lark's v2 token endpoint (`/open-apis/authen/v2/oauth/token`): a flat
 * `{ code: 0, access_token, expires_in, refresh_token, refresh_token_expires_in, token_type, scope }`,
 * or `{ code: 20xxx, error, error_description }`. Returns the tokens or the failure; never a token
 * or description text of Lark's in the failure (only the numeric code and the OAuth error string).
 */
export function processLarkTokenAnswer(
  answer: LarkTokenAnswer,
  now: number,
): { ok: true; response: TokenResponse } | { ok: false; failure: OAuthFailure } {
  const body = record(answer.body);
  const code = larkCodeOf(body);
  const oauthError = cleanProviderError(body?.error);
  if (code === 0 && answer.status >= 200 && answer.status < 300) {
    const accessToken = body?.access_token;
    const expiresIn = body?.expires_in;
    const refreshToken = body?.refresh_token;
    const tokenType = body?.token_type;
    const scope = body?.scope;
    if (
      typeof accessToken !== 'string' ||
      accessToken === '' ||
      (expiresIn !== undefined && (typeof expiresIn !== 'number' || !(expiresIn >= 0))) ||
      (refreshToken !== undefined && refreshToken !== '' && typeof refreshToken !== 'string') ||
      (tokenType !== undefined && typeof tokenType !== 'string') ||
      (scope !== undefined && typeof scope !== 'string')
    ) {
      return {
        ok: false,
        failure: failure(
          'invalid_response',
          'the provider answered with an invalid token response',
          answer.status,
        ),
      };
    }
    return {
      ok: true,
      response: {
        accessToken,
        tokenType: !tokenType || tokenType.toLowerCase() === 'bearer' ? 'Bearer' : tokenType,
        expiresInSeconds: typeof expiresIn === 'number' ? expiresIn : null,
        refreshToken: typeof refreshToken === 'string' && refreshToken !== '' ? refreshToken : null,
        scope: typeof scope === 'string' ? scope : null,
      },
    };
  }
  if (body === null || (code === null && oauthError === null)) {
    const kind: OAuthFailureKind =
      answer.status >= 500 || answer.status === 429 || answer.status === 408
        ? 'transient'
        : answer.status >= 200 && answer.status < 300
          ? 'invalid_response'
          : 'refused';
    return {
      ok: false,
      failure: {
        ...failure(
          kind,
          `the provider answered HTTP ${answer.status} without a Lark error code`,
          answer.status,
        ),
        retryAfterMs: parseRetryAfter(answer.retryAfter, now),
      },
    };
  }
  const known = code === null ? undefined : LARK_TOKEN_ERRORS[code];
  const kind: OAuthFailureKind =
    known?.kind ??
    (oauthError !== null ? STANDARD_KINDS[oauthError] : undefined) ??
    (answer.status >= 500 || answer.status === 429 ? 'transient' : 'refused');
  const named = [
    code === null ? null : `Lark error ${code}`,
    known?.meaning ?? oauthError,
    `HTTP ${answer.status}`,
  ]
    .filter(Boolean)
    .join(', ');
  return {
    ok: false,
    failure: {
      kind,
      providerError: code === null ? oauthError : String(code),
      status: answer.status,
      retryAfterMs: parseRetryAfter(answer.retryAfter, now),
      description: `the provider refused the request (${named})`,
      ...(known?.refusal
        ? { refusal: known.refusal }
        : kind === 'invalid_grant'
          ? { refusal: 'invalid' as const }
          : {}),
    },
  };
}
