import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NangoProviderConfig } from '../../../src/config/types.js';
import { CredentialStore } from '../../../src/sources/builtin/credential-store.js';
import type { StoredGrant } from '../../../src/sources/builtin/stored-grant.js';
import { ConnectionRegistry } from '../../../src/sources/nango/connection-registry.js';
import { buildTokenFile } from '../../../src/tokens/token-file.js';
import { TokenFolder } from '../../../src/tokens/token-folder.js';
import { recordFolderFsyncs, type FolderFsync } from '../../support/folder-fsyncs.js';

let fsyncs: FolderFsync[];
let restore: () => void;

/** True when the folder was fsynced at a moment it already held `name` (so after the rename). */
function syncedAfterRename(dir: string, name: string): boolean {
  return fsyncs.some((entry) => entry.dir === dir && entry.names.includes(name));
}

let dir: string;

beforeEach(async () => {
  dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-durable-')));
  ({ fsyncs, restore } = await recordFolderFsyncs());
});

afterEach(async () => {
  restore();
  await rm(dir, { recursive: true, force: true });
});

const provider: NangoProviderConfig = {
  name: 'github',
  source: 'nango',
  integration: 'github',
  scopes: ['repo'],
  exposeRefreshToken: false,
  connections: {},
};

describe('a write is durable once it returns: the folder is fsynced after the rename', () => {
  it('token files, and a new owner folder in the token root', async () => {
    const root = path.join(dir, 'tokens');
    const folder = new TokenFolder(root);
    const token = {
      accessToken: 'durable-access',
      tokenType: 'Bearer',
      expiresAt: new Date(Date.now() + 3_600_000),
      scopes: null,
      refreshToken: null,
    };
    await folder.write('alice', buildTokenFile(provider, token, new Date()), new Date());

    expect(syncedAfterRename(path.join(root, 'alice'), 'github.json')).toBe(true);
    expect(syncedAfterRename(root, 'alice')).toBe(true);
    expect(await readdir(path.join(root, 'alice'))).toEqual(['github.json']);
  });

  it('built-in grants', async () => {
    const store = new CredentialStore({ dir, encryptionKey: randomBytes(32).toString('base64') });
    const at = new Date();
    const grant: StoredGrant = {
      owner: 'alice',
      provider: 'demo',
      status: 'active',
      accessToken: 'durable-grant-access',
      refreshToken: 'durable-grant-refresh',
      tokenType: 'Bearer',
      expiresAt: new Date(at.getTime() + 3_600_000),
      scopes: null,
      authorizedAt: at,
      obtainedAt: at,
      lastRefreshedAt: null,
      generation: 1,
      needsAuth: null,
    };
    await store.write(grant);

    expect(syncedAfterRename(path.dirname(store.grantFile('alice', 'demo')), 'demo.json')).toBe(true);
    expect(syncedAfterRename(path.join(dir, 'grants'), 'alice')).toBe(true);
  });

  it('the Nango connection registry', async () => {
    const dataDir = path.join(dir, 'data');
    const registry = ConnectionRegistry.inDataDir(dataDir);
    await registry.set('alice', 'github', 'connection-1');

    expect(syncedAfterRename(dataDir, 'nango-connections.json')).toBe(true);
    expect(syncedAfterRename(dir, 'data')).toBe(true);
  });
});
