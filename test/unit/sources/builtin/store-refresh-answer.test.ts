import { describe, expect, it } from 'vitest';
import { StoreError } from '../../../../src/store/store-errors.js';
import type { CredentialLock, CredentialStore } from '../../../../src/sources/builtin/credential-store.js';
import { storeRefreshAnswer } from '../../../../src/sources/builtin/store-refresh-answer.js';
import type { StoredGrant } from '../../../../src/sources/builtin/stored-grant.js';

const grant = {
  owner: 'alice',
  provider: 'demo',
  generation: 5,
  accessToken: 'new-access',
  refreshToken: 'new-refresh',
} as StoredGrant;

/** A store whose first `failures` writes fail. */
function storeFailing(failures: number): CredentialStore & { writes: number } {
  const store = {
    writes: 0,
    write: async () => {
      store.writes++;
      if (store.writes <= failures) throw new Error('input/output error');
    },
  };
  return store as unknown as CredentialStore & { writes: number };
}

describe('storeRefreshAnswer', () => {
  it('writes again after the given delays, and stops once a write succeeds', async () => {
    const store = storeFailing(2);
    await storeRefreshAnswer(store, grant, 4, new AbortController().signal, { delaysMs: [1, 1, 1] });
    expect(store.writes).toBe(3);
  });

  it('reports the lost refresh token once the attempts run out', async () => {
    const store = storeFailing(Infinity);
    const error = await storeRefreshAnswer(store, grant, 4, new AbortController().signal, {
      delaysMs: [1, 1],
    }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'REFRESH_TOKEN_NOT_STORED' });
    expect((error as Error).message).toContain('(3 attempts failed)');
    expect((error as Error).cause).toMatchObject({ message: 'input/output error' });
    expect(store.writes).toBe(3);
  });

  it('stops waiting when aborted', async () => {
    const store = storeFailing(Infinity);
    const controller = new AbortController();
    const storing = storeRefreshAnswer(store, grant, 4, controller.signal, { delaysMs: [60_000] });
    controller.abort(new Error('closing'));
    await expect(storing).rejects.toMatchObject({ code: 'REFRESH_TOKEN_NOT_STORED' });
    expect(store.writes).toBe(1);
  });

  it('keeps trying while the shared store is unreachable for a few seconds, with the default policy', async () => {
    const startedAt = Date.now();
    const written: Array<number | null | undefined> = [];
    const store = {
      writes: 0,
      write: async (_grant: StoredGrant, replacing?: number | null) => {
        store.writes++;
        if (Date.now() - startedAt < 3_000) {
          throw new StoreError('STORE_UNAVAILABLE', 'PostgreSQL at 127.0.0.1 cannot be used right now');
        }
        written.push(replacing);
      },
    };
    await storeRefreshAnswer(store as unknown as CredentialStore, grant, 4, new AbortController().signal);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(3_000);
    expect(written).toEqual([4]);
    expect(store.writes).toBeGreaterThan(4);
  });

  it('gives up at once when another process changed the grant (the write is fenced)', async () => {
    const store = {
      writes: 0,
      write: async () => {
        store.writes++;
        throw new StoreError('STORE_CONFLICT', 'the grant changed');
      },
    };
    const error = await storeRefreshAnswer(
      store as unknown as CredentialStore,
      grant,
      4,
      new AbortController().signal,
    ).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'REFRESH_TOKEN_NOT_STORED', cause: { code: 'STORE_CONFLICT' } });
    expect(store.writes).toBe(1);
  });

  it("makes its first attempt the lock's last write, and the next ones through the store", async () => {
    const calls: string[] = [];
    const lock: CredentialLock = {
      read: async () => null,
      writeLast: async (_grant, replacing) => {
        calls.push(`lock ${replacing}`);
        throw new StoreError('STORE_UNAVAILABLE', 'the connection holding the lock was lost');
      },
    };
    const store = {
      write: async (_grant: StoredGrant, replacing?: number | null) => {
        calls.push(`store ${replacing}`);
      },
    };
    await storeRefreshAnswer(store as unknown as CredentialStore, grant, 4, new AbortController().signal, {
      lock,
      unreachableDelayMaxMs: 1,
      delaysMs: [1],
    });
    expect(calls).toEqual(['lock 4', 'store 4']);
  });

  it('counts as stored an earlier attempt that was committed though its answer was lost', async () => {
    let held: StoredGrant | null = null;
    const store = {
      writes: 0,
      write: async (written: StoredGrant) => {
        store.writes++;
        if (store.writes === 1) {
          held = written;
          throw new StoreError('STORE_UNAVAILABLE', 'the connection ended before the answer came');
        }
        throw new StoreError('STORE_CONFLICT', 'the grant changed');
      },
      read: async () => held,
    };
    await storeRefreshAnswer(store as unknown as CredentialStore, grant, 4, new AbortController().signal, {
      delaysMs: [1],
    });
    expect(store.writes).toBe(2);
  });

  it('still reports a conflict after a failed attempt when the store holds another grant', async () => {
    const other = { ...grant, refreshToken: 'someone-elses' };
    const store = {
      writes: 0,
      write: async () => {
        store.writes++;
        throw new StoreError(store.writes === 1 ? 'STORE_UNAVAILABLE' : 'STORE_CONFLICT', 'failed');
      },
      read: async () => other,
    };
    const error = await storeRefreshAnswer(
      store as unknown as CredentialStore,
      grant,
      4,
      new AbortController().signal,
      { delaysMs: [1] },
    ).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'REFRESH_TOKEN_NOT_STORED', cause: { code: 'STORE_CONFLICT' } });
  });
});
