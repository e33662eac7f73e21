/**
 * The longest wait a Retry-After may ask for, the same as the refresher's longest backoff: a
 * provider or proxy that sends hours (or a date years away) must not stop refreshes for that long.
 */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

/** IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) and the obsolete RFC 850 form, both in GMT. */
const GMT_DATE = /^[A-Za-z]{3,9}, \d{2}[ -][A-Za-z]{3}[ -]\d{2}(?:\d{2})? \d{2}:\d{2}:\d{2} GMT$/;
/** asctime (`Sun Nov  6 08:49:37 1994`), which HTTP defines as GMT too. */
const ASCTIME_DATE = /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/**
 * Milliseconds to wait from a Retry-After header (delay-seconds or an HTTP date, RFC 9110 10.2.3),
 * at most `MAX_RETRY_AFTER_MS`; null when there is no header or it is neither form. Pure.
 */
export function parseRetryAfter(header: string | null, now: number): number | null {
  if (header === null) return null;
  const value = header.trim();
  let waitMs: number;
  if (/^\d+$/.test(value)) {
    waitMs = Number(value) * 1000;
  } else {
    // Date.parse takes almost anything ("1.5", "-5"); only the three HTTP date forms are asked of it.
    const text = GMT_DATE.test(value) ? value : ASCTIME_DATE.test(value) ? `${value} GMT` : null;
    const date = text === null ? Number.NaN : Date.parse(text);
    if (Number.isNaN(date)) return null;
    waitMs = date - now;
  }
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, waitMs));
}
