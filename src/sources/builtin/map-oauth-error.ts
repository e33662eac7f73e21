import * as oauth from 'oauth4webapi';
import { parseRetryAfter } from '../retry-after.js';
import { ProviderAnswerError } from './builtin-errors.js';

export type OAuthFailureKind =
  /** The code or refresh token is no longer good: the owner must authorize again. */
  | 'invalid_grant'
  /** Our client or its settings were refused (wrong secret, grant not allowed, bad scope, insecure URL). */
  | 'configuration'
  /** Network, timeout, 5xx, 429, temporarily_unavailable: asking again later may work. */
  | 'transient'
  /** The provider answered the authorization request with an error (in the callback). */
  | 'authorization_error'
  /** Some other refusal of a well-formed request. */
  | 'refused'
  /** The answer cannot be trusted as what we asked for. */
  | 'invalid_response';

/** What went wrong with one request to a provider, in words safe to log and show. */
export interface OAuthFailure {
  kind: OAuthFailureKind;
  /** The provider's OAuth error code (e.g. `invalid_grant`), checked to be a plain code. */
  providerError: string | null;
  status: number | null;
  retryAfterMs: number | null;
  /** One short phrase: never a token, code, secret or raw body. */
  description: string;
  /**
   * For `invalid_grant`, what the provider said of the refresh token when it says (Lark does):
   * past its end, already used once, revoked, or simply not valid.
   */
  refusal?: 'expired' | 'reused' | 'revoked' | 'invalid';
  /** True when the request never reached the provider (the connection was refused). */
  notSent?: boolean;
}

/** A request to a provider failed; `failure` says how. The original error stays in `cause`. */
export class OAuthRequestError extends Error {
  override name = 'OAuthRequestError';
  declare readonly cause?: unknown;

  constructor(
    readonly failure: OAuthFailure,
    options: { cause?: unknown } = {},
  ) {
    super(failure.description);
    Object.defineProperty(this, 'cause', { value: options.cause, enumerable: false, writable: false });
  }
}

const INVALID_GRANT_CODES = new Set([
  'invalid_grant',
  // GitHub answers these with HTTP 200.
  'bad_refresh_token',
  'bad_verification_code',
]);
const CONFIGURATION_CODES = new Set([
  'invalid_client',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'incorrect_client_credentials',
  'redirect_uri_mismatch',
]);
const TRANSIENT_CODES = new Set(['temporarily_unavailable', 'server_error', 'slow_down']);

/** A provider-sent error code, only if it looks like one (it ends up in messages and pages). */
export function cleanProviderError(value: unknown): string | null {
  return typeof value === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(value) ? value : null;
}

function byStatus(status: number): OAuthFailureKind {
  if (status >= 500 || status === 429 || status === 408) return 'transient';
  return 'refused';
}

function byProviderError(code: string | null, status: number | null): OAuthFailureKind {
  if (code !== null) {
    if (INVALID_GRANT_CODES.has(code)) return 'invalid_grant';
    if (CONFIGURATION_CODES.has(code)) return 'configuration';
    if (TRANSIENT_CODES.has(code)) return 'transient';
  }
  return status === null ? 'refused' : byStatus(status);
}

function withStatus(code: string | null, status: number | null): string {
  const parts = [code, status === null ? null : `HTTP ${status}`].filter(Boolean);
  return parts.join(', ');
}

/**
 * Sorts an error from oauth4webapi or from fetch into what the source does next. Returns null for
 * anything else (a bug, not a provider's answer), which the caller rethrows.
 */
export function classifyOAuthFailure(error: unknown, now: number): OAuthFailure | null {
  if (error instanceof oauth.ResponseBodyError) {
    const providerError = cleanProviderError(error.error);
    return {
      kind: byProviderError(providerError, error.status),
      providerError,
      status: error.status,
      retryAfterMs: parseRetryAfter(error.response.headers.get('retry-after'), now),
      description: `the provider refused the request (${withStatus(providerError ?? 'no error code', error.status)})`,
    };
  }
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    const providerError = cleanProviderError(error.cause[0]?.parameters.error);
    const status = error.response.status;
    return {
      kind: providerError === 'invalid_token' ? 'configuration' : byProviderError(providerError, status),
      providerError,
      status,
      retryAfterMs: parseRetryAfter(error.response.headers.get('retry-after'), now),
      description: `the provider refused our client (${withStatus(providerError ?? 'authentication challenge', status)})`,
    };
  }
  if (error instanceof oauth.AuthorizationResponseError) {
    const providerError = cleanProviderError(error.error);
    return {
      kind: 'authorization_error',
      providerError,
      status: null,
      retryAfterMs: null,
      description: `the provider answered the authorization with an error (${providerError ?? 'no error code'})`,
    };
  }
  if (error instanceof oauth.OperationProcessingError) return classifyProcessingError(error, now);
  if (error instanceof oauth.UnsupportedOperationError) {
    return invalidResponse('the provider answered with something we do not support');
  }
  if (error instanceof ProviderAnswerError) return invalidResponse(error.message);
  const name = (error as { name?: unknown })?.name;
  if (name === 'TimeoutError') {
    return {
      kind: 'transient',
      providerError: null,
      status: null,
      retryAfterMs: null,
      description: 'the provider did not answer in time',
    };
  }
  if (error instanceof TypeError && error.message === 'fetch failed') {
    const code = (error.cause as { code?: unknown } | undefined)?.code;
    return {
      kind: 'transient',
      providerError: null,
      status: null,
      retryAfterMs: null,
      description: `cannot reach the provider (${typeof code === 'string' ? code : 'network error'})`,
      ...(code === 'ECONNREFUSED' || code === 'ENOTFOUND' ? { notSent: true } : {}),
    };
  }
  return null;
}

function invalidResponse(description: string, status: number | null = null): OAuthFailure {
  return { kind: 'invalid_response', providerError: null, status, retryAfterMs: null, description };
}

function classifyProcessingError(error: oauth.OperationProcessingError, now: number): OAuthFailure {
  switch (error.code) {
    case oauth.RESPONSE_IS_NOT_CONFORM:
    case oauth.RESPONSE_IS_NOT_JSON: {
      // A 4xx without a JSON body (a proxy's 429 page) also lands here: its status still says what happened.
      const response = error.cause instanceof Response ? error.cause : null;
      const status = response?.status ?? null;
      if (status === null || (status >= 200 && status < 300)) {
        return invalidResponse('the provider did not answer with JSON', status);
      }
      const kind = byStatus(status);
      return {
        kind,
        providerError: null,
        status,
        retryAfterMs: parseRetryAfter(response?.headers.get('retry-after') ?? null, now),
        description: `the provider answered ${status === null ? 'unexpectedly' : `HTTP ${status}`}`,
      };
    }
    case oauth.INVALID_RESPONSE: {
      // Some providers (GitHub) report errors in a 200 body; oauth4webapi then finds no access_token.
      const body = (error.cause as { body?: { error?: unknown } } | undefined)?.body;
      const providerError = cleanProviderError(body?.error);
      if (providerError !== null) {
        return {
          kind: byProviderError(providerError, null),
          providerError,
          status: 200,
          retryAfterMs: null,
          description: `the provider refused the request (${providerError})`,
        };
      }
      return invalidResponse('the provider answered with an invalid response');
    }
    case oauth.HTTP_REQUEST_FORBIDDEN:
    case oauth.REQUEST_PROTOCOL_FORBIDDEN:
      return {
        kind: 'configuration',
        providerError: null,
        status: null,
        retryAfterMs: null,
        description: 'the provider endpoint does not use https (plain http is allowed only on loopback)',
      };
    case oauth.PARSE_ERROR:
      return invalidResponse('the provider did not answer with JSON');
    case oauth.JSON_ATTRIBUTE_COMPARISON:
      return invalidResponse('the provider metadata names another issuer');
    case oauth.MISSING_SERVER_METADATA:
      return {
        kind: 'configuration',
        providerError: null,
        status: null,
        retryAfterMs: null,
        description: 'the provider metadata lacks an endpoint we need',
      };
    default:
      return invalidResponse('the provider answered with a response that does not check out');
  }
}
