export interface FreshnessInput {
  expiresAt: string | null;
  /** When the source last confirmed this token (written, or found unchanged). */
  checkedAt: Date;
  now: number;
  marginMs: number;
  maxAgeMs: number;
}

export type Freshness =
  /** Usable and recently confirmed: no source request needed. */
  | 'fresh'
  /** Usable, but not confirmed for longer than the max age (it may have been revoked or rotated). */
  | 'stale'
  /** Usable, but expires within the refresh margin. */
  | 'expiring'
  | 'expired';

/** The freshness rule: no source request while expiry is beyond the margin and the check is recent. */
export function assessFreshness(input: FreshnessInput): Freshness {
  const expiresAt = input.expiresAt === null ? null : Date.parse(input.expiresAt);
  if (expiresAt !== null && expiresAt <= input.now) return 'expired';
  if (expiresAt !== null && expiresAt - input.now <= input.marginMs) return 'expiring';
  if (input.now - input.checkedAt.getTime() >= input.maxAgeMs) return 'stale';
  return 'fresh';
}

/** A token a skill can still use right now. */
export function isUnexpired(expiresAt: string | null, now: number): boolean {
  return expiresAt === null || Date.parse(expiresAt) > now;
}
