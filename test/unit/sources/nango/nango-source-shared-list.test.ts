import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { NangoProviderConfig } from '../../../../src/config/types.js';
import { ConnectionRegistry } from '../../../../src/sources/nango/connection-registry.js';
import type { NangoApi } from '../../../../src/sources/nango/nango-api.js';
import { NangoSource } from '../../../../src/sources/nango/nango-source.js';

const provider: NangoProviderConfig = {
  name: 'github',
  source: 'nango',
  integration: 'github',
  scopes: [],
  exposeRefreshToken: false,
  connections: {},
};

/** A Nango whose connection lists wait for the test, and fail when their signal aborts, as axios does. */
function heldListApi() {
  const lists: Array<{ signal: AbortSignal; answer: () => void }> = [];
  const api: NangoApi = {
    listConnections: ({ signal }) =>
      new Promise((resolve, reject) => {
        signal.addEventListener('abort', () => reject(new Error('canceled')), { once: true });
        lists.push({
          signal,
          answer: () =>
            resolve({
              connections: [
                {
                  connection_id: 'conn-alice',
                  provider_config_key: 'github',
                  created: '2030-01-01T00:00:00Z',
                },
              ],
            }),
        });
      }),
    getConnection: async (_integration, connectionId) => ({
      connection_id: connectionId,
      credentials: {
        type: 'OAUTH2',
        access_token: `token-of-${connectionId}`,
        expires_at: '2030-01-02T00:00:00Z',
      },
    }),
    createConnectSession: async () => ({}),
    deleteConnection: async () => {},
    verifyWebhook: () => false,
  };
  return { api, lists };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-shared-list-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("NangoSource: the owner's connection list, shared by concurrent fetches", () => {
  it("is not cancelled by the first caller's signal; the others still get their token", async () => {
    const { api, lists } = heldListApi();
    const source = new NangoSource({ api, registry: ConnectionRegistry.inDataDir(dir) });
    const first = new AbortController();
    const firstFetch = source.fetchToken({ owner: 'alice', provider, mode: 'cached', signal: first.signal });
    await vi.waitFor(() => expect(lists).toHaveLength(1));
    const second = source.fetchToken({
      owner: 'alice',
      provider: { ...provider, name: 'github-again' },
      mode: 'cached',
      signal: new AbortController().signal,
    });

    first.abort(new Error('caller gave up'));
    await expect(firstFetch).rejects.toThrow('caller gave up');
    expect(lists[0]!.signal.aborted).toBe(false);

    lists[0]!.answer();
    expect(await second).toMatchObject({ status: 'token', token: { accessToken: 'token-of-conn-alice' } });
    expect(lists).toHaveLength(1);
    await source.close();
  });

  it('is cut short when the source closes', async () => {
    const { api, lists } = heldListApi();
    const source = new NangoSource({ api, registry: ConnectionRegistry.inDataDir(dir) });
    const fetching = source.fetchToken({
      owner: 'alice',
      provider,
      mode: 'cached',
      signal: new AbortController().signal,
    });
    await vi.waitFor(() => expect(lists).toHaveLength(1));
    await source.close();
    expect(lists[0]!.signal.aborted).toBe(true);
    await expect(fetching).rejects.toThrow('canceled');
  });
});
