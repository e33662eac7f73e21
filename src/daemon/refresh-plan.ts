/** Expiring tokens refresh between the margin and 80% of it before expiry, spread so a wave thins out. */
export const EXPIRY_JITTER_FRACTION = 0.2;
/** Non-expiring tokens are re-checked between 100% and 110% of the max age after their last check. */
export const MAX_AGE_JITTER_FRACTION = 0.1;
/** Nothing is planned sooner than this after now, so a token that cannot get fresher never spins. */
export const MIN_RECHECK_MS = 1_000;

export interface RefreshPlanInput {
  /** Epoch ms, or null for a token that does not expire. */
  expiresAt: number | null;
  /** When the source last confirmed the token (epoch ms). */
  checkedAt: number;
  now: number;
  marginMs: number;
  maxAgeMs: number;
  /** A number in [0, 1). */
  random: () => number;
}

/**
 * When to refresh a token next (epoch ms). Ahead of expiry by the margin, plus a jitter that keeps it
 * inside the margin; a token already inside the margin halfway between its last check and its expiry
 * (at once when that is past); one that never expires once its last check is older than the max age.
 */
export function planNextRefresh(input: RefreshPlanInput): number {
  const { expiresAt, checkedAt, now, marginMs, maxAgeMs, random } = input;
  const floor = now + MIN_RECHECK_MS;
  if (expiresAt === null) {
    return Math.max(floor, checkedAt + maxAgeMs + random() * maxAgeMs * MAX_AGE_JITTER_FRACTION);
  }
  if (expiresAt - now > marginMs) {
    return Math.max(floor, expiresAt - marginMs + random() * marginMs * EXPIRY_JITTER_FRACTION);
  }
  // A source whose tokens live shorter than the margin would otherwise be asked again at once, forever.
  return Math.max(floor, checkedAt + (expiresAt - checkedAt) / 2);
}
