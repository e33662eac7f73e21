import { describe, expect, it } from 'vitest';
import { MIN_RECHECK_MS, planNextRefresh } from '../../../src/daemon/refresh-plan.js';

const now = Date.parse('2030-01-01T00:00:00Z');
const base = { now, checkedAt: now, marginMs: 300_000, maxAgeMs: 600_000 };

describe('planNextRefresh', () => {
  it('plans an expiring token at expiry minus the margin, jittered into the margin', () => {
    const expiresAt = now + 3_600_000;
    expect(planNextRefresh({ ...base, expiresAt, random: () => 0 })).toBe(expiresAt - 300_000);
    const latest = planNextRefresh({ ...base, expiresAt, random: () => 0.999999 });
    expect(latest).toBeLessThan(expiresAt - 240_000);
    expect(latest).toBeGreaterThan(expiresAt - 240_001);
  });

  it('re-checks a token that never expires once its check is older than the max age', () => {
    const checkedAt = now - 100_000;
    expect(planNextRefresh({ ...base, checkedAt, expiresAt: null, random: () => 0 })).toBe(
      checkedAt + 600_000,
    );
    const latest = planNextRefresh({ ...base, checkedAt, expiresAt: null, random: () => 0.999999 });
    expect(latest).toBeLessThan(checkedAt + 660_000);
  });

  it('refreshes a token already inside the margin (after a restart) right away', () => {
    const plan = planNextRefresh({
      ...base,
      checkedAt: now - 3_600_000,
      expiresAt: now + 60_000,
      random: () => 0,
    });
    expect(plan).toBe(now + MIN_RECHECK_MS);
    const expired = planNextRefresh({
      ...base,
      checkedAt: now - 7_200_000,
      expiresAt: now - 1,
      random: () => 0,
    });
    expect(expired).toBe(now + MIN_RECHECK_MS);
  });

  it('refreshes a token that lives shorter than the margin halfway through its life, not in a loop', () => {
    const plan = planNextRefresh({ ...base, expiresAt: now + 120_000, random: () => 0 });
    expect(plan).toBe(now + 60_000);
  });

  it('never plans a stale non-expiring check in the past', () => {
    const plan = planNextRefresh({ ...base, checkedAt: now - 86_400_000, expiresAt: null, random: () => 0 });
    expect(plan).toBe(now + MIN_RECHECK_MS);
  });
});
