import { describe, expect, it } from 'vitest';
import { SessionStore } from '../../../src/web/auth/session-store.js';

describe('SessionStore', () => {
  it('keeps sessions until they expire or end', () => {
    let now = 1_000;
    const store = new SessionStore({ sessionTtlMs: 60_000, now: () => now });
    const id = store.createSession();
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(store.isValidSession(id)).toBe(true);
    expect(store.isValidSession(`${id}x`)).toBe(false);
    expect(store.isValidSession(undefined)).toBe(false);
    now += 60_000;
    expect(store.isValidSession(id)).toBe(false);
    const other = store.createSession();
    store.endSession(other);
    expect(store.isValidSession(other)).toBe(false);
  });

  it('spends a login code on its first use, and refuses expired ones', () => {
    let now = 0;
    const store = new SessionStore({ loginCodeTtlMs: 1_000, now: () => now });
    const code = store.createLoginCode();
    expect(store.redeemLoginCode(code)).toBe(true);
    expect(store.redeemLoginCode(code)).toBe(false);
    const late = store.createLoginCode();
    now = 1_000;
    expect(store.redeemLoginCode(late)).toBe(false);
    expect(store.redeemLoginCode('')).toBe(false);
  });

  it('drops the oldest sessions beyond its bound', () => {
    const store = new SessionStore({ maxSessions: 2 });
    const [first, second, third] = [store.createSession(), store.createSession(), store.createSession()];
    expect(store.isValidSession(first)).toBe(false);
    expect(store.isValidSession(second)).toBe(true);
    expect(store.isValidSession(third)).toBe(true);
  });
});
