import { describe, expect, it } from 'vitest';
import { BACKOFF_MAX_MS, BACKOFF_MIN_MS, nextBackoffMs, retryDelayMs } from '../../../src/daemon/backoff.js';

describe('nextBackoffMs', () => {
  it('starts at one second', () => {
    expect(nextBackoffMs(null, () => 0.5)).toBe(BACKOFF_MIN_MS);
  });

  it('makes each step between 75% and 100% of twice the previous one', () => {
    for (const previous of [1_000, 1_700, 4_000, 20_000, 100_000]) {
      expect(nextBackoffMs(previous, () => 0)).toBe(1.5 * previous);
      const high = nextBackoffMs(previous, () => 0.999999);
      expect(high).toBeLessThanOrEqual(2 * previous);
      expect(high).toBeGreaterThan(1.99 * previous);
    }
  });

  it('stays within 1 s and 5 min over a long run of random failures', () => {
    let delay: number | null = null;
    const seen: number[] = [];
    for (let i = 0; i < 40; i++) {
      const previous: number | null = delay;
      delay = nextBackoffMs(previous, Math.random);
      seen.push(delay);
      if (previous !== null && previous < BACKOFF_MAX_MS / 2) {
        expect(delay).toBeGreaterThanOrEqual(1.5 * previous);
        expect(delay).toBeLessThanOrEqual(2 * previous);
      }
    }
    expect(Math.min(...seen)).toBe(BACKOFF_MIN_MS);
    expect(Math.max(...seen)).toBe(BACKOFF_MAX_MS);
  });
});

describe('retryDelayMs', () => {
  it('waits for the longer of the backoff and Retry-After', () => {
    expect(retryDelayMs(1_000, 30_000)).toBe(30_000);
    expect(retryDelayMs(8_000, 2_000)).toBe(8_000);
    expect(retryDelayMs(8_000, null)).toBe(8_000);
  });
});
