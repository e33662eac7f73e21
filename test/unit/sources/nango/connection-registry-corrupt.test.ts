import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NangoProviderConfig } from '../../../../src/config/types.js';
import { EventBus } from '../../../../src/events/event-bus.js';
import { silentLogger } from '../../../../src/log/logger.js';
import { ConnectionRegistry } from '../../../../src/sources/nango/connection-registry.js';
import type { NangoApi } from '../../../../src/sources/nango/nango-api.js';
import { NangoSource } from '../../../../src/sources/nango/nango-source.js';
import { TokenSourceRegistry } from '../../../../src/sources/token-source.js';
import { buildTokenFile, serializeTokenFile } from '../../../../src/tokens/token-file.js';
import { TokenFolder } from '../../../../src/tokens/token-folder.js';
import { TokenSync } from '../../../../src/tokens/token-sync.js';

const TORN = '{"alice": {"github": "conn-al';

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-registry-corrupt-'));
  file = path.join(dir, 'nango-connections.json');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The error every call gets: a stable code, and the file's path so the owner knows what to fix. */
function unreadable() {
  return expect.objectContaining({
    code: 'CONNECTION_REGISTRY_UNREADABLE',
    message: expect.stringContaining(file) as unknown,
  });
}

describe('a damaged connection registry', () => {
  it.each([
    ['torn JSON', TORN],
    ['a JSON array', '[]'],
    ['JSON null', 'null'],
  ])('(%s) is reported with a stable code and its path, and never overwritten', async (_name, text) => {
    await writeFile(file, text);
    const registry = new ConnectionRegistry(file);

    await expect(registry.get('alice', 'github')).rejects.toEqual(unreadable());
    await expect(registry.set('bob', 'github', 'conn-bob')).rejects.toEqual(unreadable());
    await expect(registry.delete('alice', 'github')).rejects.toEqual(unreadable());
    await expect(registry.ownersOf('github', 'conn-alice')).rejects.toEqual(unreadable());
    expect(await readFile(file, 'utf8')).toBe(text);
  });

  it('is read again once repaired, without a restart', async () => {
    await writeFile(file, TORN);
    const registry = new ConnectionRegistry(file);
    await expect(registry.get('alice', 'github')).rejects.toEqual(unreadable());

    await writeFile(file, JSON.stringify({ alice: { github: 'conn-alice' } }));
    expect(await registry.get('alice', 'github')).toBe('conn-alice');
  });

  it('turns a sync into an error that names it, and keeps the token file and the registry', async () => {
    const provider: NangoProviderConfig = {
      name: 'github',
      source: 'nango',
      integration: 'github',
      scopes: [],
      exposeRefreshToken: false,
      connections: {},
    };
    const calls: string[] = [];
    // Nango no longer knows the owner's id as a connection: guessing one would answer 404.
    const api: NangoApi = {
      getConnection: async () => {
        calls.push('getConnection');
        throw Object.assign(new Error('Request failed with status code 404'), {
          response: { status: 404, data: { error: { code: 'not_found' } }, headers: {} },
        });
      },
      listConnections: async () => {
        calls.push('listConnections');
        return { connections: [] };
      },
      createConnectSession: async () => ({}),
      deleteConnection: async () => {},
      verifyWebhook: () => false,
    };
    await writeFile(file, TORN);
    const folder = new TokenFolder(path.join(dir, 'tokens'));
    await mkdir(folder.ownerDir('alice'), { recursive: true });
    const stale = buildTokenFile(
      provider,
      {
        accessToken: 'registry-kept-access',
        tokenType: 'Bearer',
        expiresAt: new Date(Date.now() + 60_000),
        scopes: null,
        refreshToken: null,
      },
      new Date(Date.now() - 3_600_000),
    );
    await writeFile(folder.filePath('alice', 'github'), serializeTokenFile(stale));
    const before = await readFile(folder.filePath('alice', 'github'), 'utf8');

    const tokenSync = new TokenSync({
      config: { providers: [provider], refresh: { marginMs: 300_000, maxAgeMs: 300_000, concurrency: 2 } },
      folder,
      sources: new TokenSourceRegistry({
        nango: new NangoSource({ api, registry: new ConnectionRegistry(file) }),
      }),
      events: new EventBus(),
      logger: silentLogger(),
    });
    const result = await tokenSync.sync('alice', 'github');

    expect(result).toMatchObject({ state: 'error', code: 'CONNECTION_REGISTRY_UNREADABLE', usable: true });
    expect(result.message).toContain(file);
    expect(calls).toEqual([]);
    expect(await readFile(folder.filePath('alice', 'github'), 'utf8')).toBe(before);
    expect(await readFile(file, 'utf8')).toBe(TORN);
  });
});
