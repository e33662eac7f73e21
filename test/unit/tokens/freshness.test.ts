import { describe, expect, it } from 'vitest';
import { assessFreshness, isUnexpired } from '../../../src/tokens/freshness.js';

const NOW = Date.parse('2030-01-01T12:00:00.000Z');
const MINUTE = 60_000;
const RULES = { now: NOW, marginMs: 5 * MINUTE, maxAgeMs: 5 * MINUTE };

function assess(expiresInMs: number | null, checkedAgoMs: number) {
  return assessFreshness({
    ...RULES,
    expiresAt: expiresInMs === null ? null : new Date(NOW + expiresInMs).toISOString(),
    checkedAt: new Date(NOW - checkedAgoMs),
  });
}

describe('assessFreshness', () => {
  it('is fresh when expiry is beyond the margin and the check is recent', () => {
    expect(assess(60 * MINUTE, 0)).toBe('fresh');
    expect(assess(5 * MINUTE + 1, 5 * MINUTE - 1)).toBe('fresh');
  });

  it('is expiring within the refresh margin, however recent the check', () => {
    expect(assess(5 * MINUTE, 0)).toBe('expiring');
    expect(assess(1, 0)).toBe('expiring');
  });

  it('is expired at and after the expiry time', () => {
    expect(assess(0, 0)).toBe('expired');
    expect(assess(-MINUTE, 0)).toBe('expired');
  });

  it('is stale once the source has not confirmed it for the max age (5 minutes)', () => {
    expect(assess(60 * MINUTE, 5 * MINUTE)).toBe('stale');
    expect(assess(60 * MINUTE, 10 * MINUTE)).toBe('stale');
  });

  it('judges a token without expiry by its age alone', () => {
    expect(assess(null, 0)).toBe('fresh');
    expect(assess(null, 5 * MINUTE - 1)).toBe('fresh');
    expect(assess(null, 5 * MINUTE)).toBe('stale');
  });

  it('follows the configured margin and max age', () => {
    const input = { now: NOW, checkedAt: new Date(NOW - 2 * MINUTE) };
    const expiresAt = new Date(NOW + 20 * MINUTE).toISOString();
    expect(assessFreshness({ ...input, expiresAt, marginMs: 30 * MINUTE, maxAgeMs: 5 * MINUTE })).toBe(
      'expiring',
    );
    expect(assessFreshness({ ...input, expiresAt, marginMs: 0, maxAgeMs: MINUTE })).toBe('stale');
    expect(assessFreshness({ ...input, expiresAt, marginMs: 0, maxAgeMs: 0 })).toBe('stale');
  });
});

describe('isUnexpired', () => {
  it('is true until the expiry time and for tokens that never expire', () => {
    expect(isUnexpired(new Date(NOW + 1).toISOString(), NOW)).toBe(true);
    expect(isUnexpired(new Date(NOW).toISOString(), NOW)).toBe(false);
    expect(isUnexpired(null, NOW)).toBe(true);
  });
});
