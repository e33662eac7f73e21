import { TokenSourceConfigError } from '../../errors.js';
import { parseRetryAfter } from '../retry-after.js';
import type { FetchOutcome } from '../token-source.js';

/** What an HTTP failure looked like, pulled out of the SDK's axios error so mapping stays pure. */
export interface NangoFailure {
  /** HTTP status, or null when no response arrived. */
  status: number | null;
  /** Nango's `error.code`, when the body had one. */
  errorCode: string | null;
  /** Nango's `error.message` (at most 200 characters): only compared, never repeated. */
  errorMessage: string | null;
  /** Paths of the fields a 400 `invalid_body` names (`allowed_integrations.0`). */
  invalidFields: string[];
  retryAfterHeader: string | null;
  /** axios/Node error code for failures without a response (ECONNREFUSED, ECONNABORTED, ...). */
  transportCode: string | null;
}

/** Nango's cooldown after a failed refresh; non-forced reads answer 424 until it passes. */
export const NANGO_REFRESH_COOLDOWN_MS = 30_000;

/**
 * The shortest wait after a 429. Nango may send `Retry-After: 0` (its window resets within the
 * second); asking again at once is refused again.
 */
export const NANGO_MIN_RETRY_AFTER_MS = 1_000;

/**
 * Nango answers 424 `invalid_credentials` both while it backs off after a failed refresh and once
 * it stopped refreshing for good; only the message tells them apart. Only the cooldown keeps the
 * file: any 424 not recognised as it is treated as a refresh that will not come.
 */
const REFRESH_COOLDOWN_MESSAGE = /backing off before retrying/i;
const REFRESH_EXHAUSTED_MESSAGE = /refresh limit has been reached/i;

/** Reads the parts of an axios error we need, and nothing else (its config holds the API key). */
export function describeNangoFailure(error: unknown): NangoFailure {
  const value = error as {
    response?: { status?: unknown; data?: unknown; headers?: Record<string, unknown> };
    code?: unknown;
  };
  const response = value?.response;
  const data = response?.data as
    { error?: { code?: unknown; message?: unknown; errors?: unknown } | string } | undefined;
  let errorCode: string | null = null;
  let errorMessage: string | null = null;
  let invalidFields: string[] = [];
  if (data && typeof data === 'object') {
    if (typeof data.error === 'object' && data.error) {
      if (typeof data.error.code === 'string') errorCode = data.error.code;
      if (typeof data.error.message === 'string') errorMessage = data.error.message.slice(0, 200);
      invalidFields = fieldPaths(data.error.errors);
    } else if (typeof data.error === 'string') errorCode = data.error;
  }
  const headers = response?.headers ?? {};
  const retryAfter = headers['retry-after'];
  return {
    status: typeof response?.status === 'number' ? response.status : null,
    errorCode,
    errorMessage,
    invalidFields,
    retryAfterHeader:
      typeof retryAfter === 'string'
        ? retryAfter
        : typeof retryAfter === 'number'
          ? String(retryAfter)
          : null,
    transportCode: typeof value?.code === 'string' ? value.code : null,
  };
}

/** `error.errors[].path` of a validation answer, each joined with dots; at most 10. */
function fieldPaths(errors: unknown): string[] {
  if (!Array.isArray(errors)) return [];
  return errors.slice(0, 10).flatMap((entry: unknown) => {
    const path = (entry as { path?: unknown } | null)?.path;
    if (!Array.isArray(path) || !path.every((part) => typeof part === 'string' || typeof part === 'number'))
      return [];
    return [path.join('.').slice(0, 100)];
  });
}

export interface NangoErrorContext {
  integration: string;
  connectionId: string;
  now: number;
}

/**
 * Maps a failed Nango call onto our three answers, as NANGO.md records the server's behaviour.
 * Configuration problems are thrown: no retry will fix them.
 */
export function mapNangoFailure(failure: NangoFailure, context: NangoErrorContext): FetchOutcome {
  const { status, errorCode } = failure;
  const subject = `integration "${context.integration}", connection "${context.connectionId}"`;

  if (status === null) {
    const timedOut = failure.transportCode === 'ECONNABORTED' || failure.transportCode === 'ETIMEDOUT';
    return {
      status: 'unavailable',
      code: timedOut ? 'SOURCE_TIMEOUT' : 'SOURCE_UNREACHABLE',
      reason: timedOut
        ? 'Nango did not answer in time'
        : `cannot reach Nango (${failure.transportCode ?? 'network error'})`,
      retryAfterMs: null,
    };
  }
  if (status === 401 || status === 403) {
    throw new TokenSourceConfigError(
      `Nango rejected the secret key (${errorCode ?? `HTTP ${status}`}): check NANGO_SECRET_KEY and NANGO_HOST`,
    );
  }
  if (status === 404) {
    return {
      status: 'needs_auth',
      code: 'CONNECTION_NOT_FOUND',
      reason: `Nango has no connection for ${subject}`,
    };
  }
  if (status === 400 && errorCode === 'unknown_provider_config') {
    throw new TokenSourceConfigError(
      `Nango has no integration "${context.integration}": create it in Nango or fix the provider's integration id`,
    );
  }
  if (status === 400 && errorCode === 'invalid_credentials') {
    return {
      status: 'needs_auth',
      code: 'REFRESH_FAILED',
      reason: `the provider refused to refresh ${subject}`,
    };
  }
  if (status === 424) {
    const message = failure.errorMessage;
    const cooldown =
      errorCode === 'connection_refresh_backoff' ||
      (message !== null && REFRESH_COOLDOWN_MESSAGE.test(message));
    if (cooldown) {
      return {
        status: 'unavailable',
        code: 'SOURCE_COOLDOWN',
        reason: `Nango is cooling down after a failed refresh of ${subject}`,
        retryAfterMs: parseRetryAfter(failure.retryAfterHeader, context.now) ?? NANGO_REFRESH_COOLDOWN_MS,
      };
    }
    const exhausted =
      errorCode === 'connection_refresh_exhausted' ||
      (message !== null && REFRESH_EXHAUSTED_MESSAGE.test(message));
    if (exhausted) {
      return {
        status: 'needs_auth',
        code: 'REFRESH_EXHAUSTED',
        reason: `Nango gave up refreshing ${subject}`,
      };
    }
    return {
      status: 'needs_auth',
      code: 'REFRESH_REFUSED',
      reason: `Nango refused to refresh ${subject} (HTTP 424, not its cooldown)`,
    };
  }
  if (status === 429) {
    return {
      status: 'unavailable',
      code: 'RATE_LIMITED',
      reason: 'Nango rate limit reached',
      retryAfterMs: Math.max(
        NANGO_MIN_RETRY_AFTER_MS,
        parseRetryAfter(failure.retryAfterHeader, context.now) ?? 60_000,
      ),
    };
  }
  if (status >= 500) {
    return {
      status: 'unavailable',
      code: 'SOURCE_ERROR',
      reason: `Nango answered HTTP ${status}`,
      retryAfterMs: null,
    };
  }
  return {
    status: 'unavailable',
    code: 'SOURCE_REJECTED',
    reason: `Nango answered HTTP ${status}${errorCode ? ` (${errorCode})` : ''} for ${subject}`,
    retryAfterMs: null,
  };
}
