import { describe, expect, it } from 'vitest';
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
    await storeRefreshAnswer(store, grant, new AbortController().signal, [1, 1, 1]);
    expect(store.writes).toBe(3);
  });

  it('reports the lost refresh token once the attempts run out', async () => {
    const store = storeFailing(Infinity);
    const error = await storeRefreshAnswer(store, grant, new AbortController().signal, [1, 1]).catch(
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({ code: 'REFRESH_TOKEN_NOT_STORED' });
    expect((error as Error).message).toContain('(3 attempts failed)');
    expect((error as Error).cause).toMatchObject({ message: 'input/output error' });
    expect(store.writes).toBe(3);
  });

  it('stops waiting when aborted', async () => {
    const store = storeFailing(Infinity);
    const controller = new AbortController();
    const storing = storeRefreshAnswer(store, grant, controller.signal, [60_000]);
    controller.abort(new Error('closing'));
    await expect(storing).rejects.toMatchObject({ code: 'REFRESH_TOKEN_NOT_STORED' });
    expect(store.writes).toBe(1);
  });
});
