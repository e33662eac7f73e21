/** First retry delay after a failed refresh. */
export const BACKOFF_MIN_MS = 1_000;
/** Retries never wait longer than this, whatever a Retry-After asks for. */
export const BACKOFF_MAX_MS = 5 * 60_000;

/**
 * The next retry delay: 1 s after the first failure, then each step between 75% and 100% of twice
 * the previous one, capped at 5 minutes. `random` returns a number in [0, 1).
 */
export function nextBackoffMs(previousMs: number | null, random: () => number): number {
  if (previousMs === null) return BACKOFF_MIN_MS;
  const step = 2 * previousMs * (0.75 + 0.25 * random());
  return Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_MIN_MS, step));
}

/**
 * How long to wait before retrying: the backoff, or longer when the source said so (Retry-After,
 * cooldown), but never past the cap: a source asking for hours must not stop refreshes for hours.
 */
export function retryDelayMs(backoffMs: number, retryAfterMs: number | null): number {
  return Math.max(backoffMs, Math.min(retryAfterMs ?? 0, BACKOFF_MAX_MS));
}
