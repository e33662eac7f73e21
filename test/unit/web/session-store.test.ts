import { describe, expect, it } from 'vitest';
import { SessionStore } from '../../../src/web/auth/session-store.js';

describe('SessionStore', () => {
  it('keeps sessions until they expire or end', async () => {
    let now = 1_000;
    const store = new SessionStore({ sessionTtlMs: 60_000, now: () => now });
    const id = store.createSession();
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await store.isValidSession(id)).toBe(true);
    expect(await store.isValidSession(`${id}x`)).toBe(false);
    expect(await store.isValidSession(undefined)).toBe(false);
    now += 60_000;
    expect(await store.isValidSession(id)).toBe(false);
    const other = store.createSession();
    await store.endSession(other);
    expect(await store.isValidSession(other)).toBe(false);
  });

  it('spends a login code on its first use, and refuses expired ones', async () => {
    let now = 0;
    const store = new SessionStore({ loginCodeTtlMs: 1_000, now: () => now });
    const code = store.createLoginCode();
    expect(await store.redeemLoginCode(code)).toBe(true);
    expect(await store.redeemLoginCode(code)).toBe(false);
    const late = store.createLoginCode();
    now = 1_000;
    expect(await store.redeemLoginCode(late)).toBe(false);
    expect(await store.redeemLoginCode('')).toBe(false);
  });

  it('drops the oldest sessions beyond its bound', async () => {
    const store = new SessionStore({ maxSessions: 2 });
    const [first, second, third] = [store.createSession(), store.createSession(), store.createSession()];
    expect(await store.isValidSession(first)).toBe(false);
    expect(await store.isValidSession(second)).toBe(true);
    expect(await store.isValidSession(third)).toBe(true);
  });
});
