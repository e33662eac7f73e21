import type { OAuthFailure } from './map-oauth-error.js';

/** Why a refused refresh ends the grant, in a code the owner's tools can tell apart and words they can act on. */
export interface RefreshRefusal {
  code: 'REFRESH_ANSWER_LOST' | 'REFRESH_TOKEN_REUSED' | 'GRANT_EXPIRED' | 'GRANT_REVOKED';
  reason: string;
}

/**
 * The needs-auth code and reason for a refresh token the provider refused (`invalid_grant`).
 * `unansweredSince` is when an earlier refresh with this same token was sent and its answer never
 * stored: with a provider that rotates refresh tokens, that answer held the only valid one.
 */
export function refusalOfRefresh(
  provider: string,
  failure: OAuthFailure,
  unansweredSince: Date | null,
): RefreshRefusal {
  const said = failure.providerError ?? 'invalid_grant';
  if (unansweredSince !== null) {
    return {
      code: 'REFRESH_ANSWER_LOST',
      reason:
        `${provider} refused the refresh token (${said}): a refresh sent with it at ${unansweredSince.toISOString()} ` +
        'got no stored answer (the process stopped, the connection broke or the answer was unusable after sending it), and the new ' +
        `refresh token in that answer is lost; ${provider} takes each refresh token once: authorize again`,
    };
  }
  switch (failure.refusal) {
    case 'reused':
      return {
        code: 'REFRESH_TOKEN_REUSED',
        reason:
          `${provider} says the refresh token was already used (${said}): something else holding it refreshed ` +
          'first, and the grant is lost: authorize again',
      };
    case 'expired':
      return {
        code: 'GRANT_EXPIRED',
        reason: `the ${provider} authorization has reached its end (${said}, the refresh token expired): authorize again`,
      };
    default:
      return {
        code: 'GRANT_REVOKED',
        reason: `${provider} refused the refresh token (${said}): authorize again`,
      };
  }
}
