import { describe, expect, it } from 'vitest';
import { StoreError } from '../../../../src/store/store-errors.js';
import type { CredentialStore } from '../../../../src/sources/builtin/credential-store.js';
import { storeRefreshAnswer } from '../../../../src/sources/builtin/store-refresh-answer.js';
import type { StoredGrant } from '../../../../src/sources/builtin/stored-grant.js';

const grant = { owner: 'alice', provider: 'demo' } as StoredGrant;

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
});
