import type { SourceToken } from '../token-source.js';
import type { TokenResponse } from './oauth-protocol.js';
import type { StoredGrant } from './stored-grant.js';

export type GrantEvent = 'authorized' | 'refreshed' | 'client_credentials';

export interface GrantUpdate {
  previous: StoredGrant | null;
  response: TokenResponse;
  owner: string;
  provider: string;
  via: GrantEvent;
  /** The provider's dialect: in `lark`, a refresh token works once. */
  dialect: 'oauth2' | 'lark';
  now: Date;
}

/**
 * The grant after a token response. A provider that does not rotate refresh tokens sends none on
 * refresh: the one we have stays good (RFC 6749 section 6). Lark's refresh tokens work once, so
 * there the one just sent is spent and dropped. A new authorization starts a new grant.
 */
export function applyTokenResponse(update: GrantUpdate): StoredGrant {
  const { previous, response, now, via } = update;
  const continuing = via === 'refreshed' ? previous : null;
  const keptRefreshToken = update.dialect === 'lark' ? null : (continuing?.refreshToken ?? null);
  const scopes =
    response.scope === null ? (continuing?.scopes ?? null) : response.scope.split(' ').filter(Boolean);
  return {
    owner: update.owner,
    provider: update.provider,
    status: 'active',
    accessToken: response.accessToken,
    refreshToken: response.refreshToken ?? keptRefreshToken,
    tokenType: response.tokenType,
    expiresAt:
      response.expiresInSeconds === null ? null : new Date(now.getTime() + response.expiresInSeconds * 1000),
    scopes,
    authorizedAt: via === 'refreshed' && previous ? previous.authorizedAt : now,
    obtainedAt: now,
    lastRefreshedAt: via === 'refreshed' ? now : null,
    generation: (previous?.generation ?? 0) + 1,
    needsAuth: null,
    refreshSentAt: null,
  };
}

/** The grant once the provider refused it: the tokens are dropped, the reason is kept. */
export function markNeedsAuth(grant: StoredGrant, code: string, reason: string, now: Date): StoredGrant {
  return {
    ...grant,
    status: 'needs_auth',
    accessToken: null,
    refreshToken: null,
    generation: grant.generation + 1,
    needsAuth: { code, reason, at: now },
    refreshSentAt: null,
  };
}

/** The grant as written just before its refresh token is sent: a crash from here on is visible later. */
export function markRefreshSent(grant: StoredGrant, now: Date): StoredGrant {
  return { ...grant, generation: grant.generation + 1, refreshSentAt: now };
}

export function isUnexpired(grant: StoredGrant, now: number): boolean {
  return grant.accessToken !== null && (grant.expiresAt === null || grant.expiresAt.getTime() > now);
}

export interface RenewalPolicy {
  now: number;
  /** Renew this long before expiry, but not before half the token's life: short-lived tokens would renew on every call. */
  marginMs: number;
  /** The caller asks for a new token even though this one is good. */
  force: boolean;
  /** A forced renewal is skipped for a token younger than this: it is as new as a refresh would make it. */
  forceMinAgeMs: number;
}

/** True when the access token should be replaced before it is handed out. */
export function needsRenewal(grant: StoredGrant, policy: RenewalPolicy): boolean {
  if (grant.accessToken === null) return true;
  if (policy.force) return policy.now - grant.obtainedAt.getTime() >= policy.forceMinAgeMs;
  if (grant.expiresAt === null) return false;
  const expiresAt = grant.expiresAt.getTime();
  const lifetime = expiresAt - grant.obtainedAt.getTime();
  const margin = Math.min(policy.marginMs, Math.max(0, lifetime / 2));
  return expiresAt - policy.now <= margin;
}

export function sourceTokenOf(grant: StoredGrant): SourceToken {
  if (grant.accessToken === null) throw new Error('grant has no access token');
  return {
    accessToken: grant.accessToken,
    tokenType: grant.tokenType,
    expiresAt: grant.expiresAt,
    scopes: grant.scopes,
    refreshToken: grant.refreshToken,
  };
}
