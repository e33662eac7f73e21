import { describe, expect, it } from 'vitest';
import {
  isBrowserBinding,
  newBrowserBinding,
  PendingAuthorizations,
} from '../../../../src/sources/builtin/pending-authorizations.js';

function table(start = 1_000_000) {
  let now = start;
  const pending = new PendingAuthorizations({ now: () => now, maxPending: 3 });
  return { pending, advance: (ms: number) => (now += ms) };
}

const entry = (state: string, owner = 'alice') => ({
  state,
  owner,
  provider: 'demo',
  codeVerifier: `verifier-${state}`,
  redirectUri: 'http://127.0.0.1:3000/auth/oauth/demo/callback',
});

describe('PendingAuthorizations', () => {
  it('hands a state back once, to the same provider and browser', async () => {
    const { pending } = table();
    const binding = newBrowserBinding();
    await pending.add(entry('s1'), binding);
    expect(await pending.consume('s1', 'demo', binding)).toEqual({
      ok: true,
      pending: { ...entry('s1'), expiresAt: 1_000_000 + 10 * 60_000 },
    });
    expect(await pending.consume('s1', 'demo', binding)).toEqual({
      ok: false,
      reason: 'unknown',
      owner: null,
    });
  });

  it('refuses an expired state', async () => {
    const { pending, advance } = table();
    const binding = newBrowserBinding();
    await pending.add(entry('s1'), binding);
    advance(10 * 60_000);
    expect(await pending.consume('s1', 'demo', binding)).toEqual({
      ok: false,
      reason: 'expired',
      owner: 'alice',
    });
  });

  it('refuses another provider, another browser or no browser binding, and uses the state up', async () => {
    const { pending } = table();
    const binding = newBrowserBinding();
    await pending.add(entry('s1'), binding);
    await pending.add(entry('s2'), binding);
    await pending.add(entry('s3'), binding);
    expect(await pending.consume('s1', 'github', binding)).toMatchObject({
      ok: false,
      reason: 'wrong_provider',
    });
    expect(await pending.consume('s2', 'demo', newBrowserBinding())).toMatchObject({
      ok: false,
      reason: 'wrong_browser',
    });
    expect(await pending.consume('s3', 'demo', null)).toMatchObject({ ok: false, reason: 'wrong_browser' });
    for (const state of ['s1', 's2', 's3']) {
      expect(await pending.consume(state, 'demo', binding)).toMatchObject({ ok: false, reason: 'unknown' });
    }
    expect(pending.size).toBe(0);
  });

  it('keeps at most maxPending entries, dropping the oldest', async () => {
    const { pending } = table();
    const binding = newBrowserBinding();
    for (const state of ['a', 'b', 'c', 'd']) await pending.add(entry(state), binding);
    expect(pending.size).toBe(3);
    expect(await pending.consume('a', 'demo', binding)).toMatchObject({ ok: false, reason: 'unknown' });
    expect(await pending.consume('d', 'demo', binding)).toMatchObject({ ok: true });
  });

  it('makes random bindings and refuses short ones', async () => {
    const first = newBrowserBinding();
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(newBrowserBinding()).not.toBe(first);
    expect(isBrowserBinding(first)).toBe(true);
    expect(isBrowserBinding('short')).toBe(false);
    expect(isBrowserBinding(null)).toBe(false);
  });
});
