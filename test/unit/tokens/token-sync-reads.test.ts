import { mkdtemp, rm, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { NangoProviderConfig } from '../../../src/config/types.js';
import { EventBus } from '../../../src/events/event-bus.js';
import { silentLogger } from '../../../src/log/logger.js';
import type { FetchOutcome, TokenSource, TokenSources } from '../../../src/sources/token-source.js';
import { TokenFolder } from '../../../src/tokens/token-folder.js';
import { TokenSync } from '../../../src/tokens/token-sync.js';

const MINUTE = 60_000;

const provider: NangoProviderConfig = {
  name: 'github',
  source: 'nango',
  integration: 'github',
  scopes: ['repo'],
  exposeRefreshToken: false,
  connections: {},
};

/** Hands out a new token on every request. */
class IssuingSource implements TokenSource, TokenSources {
  readonly kind = 'nango' as const;
  #issued = 0;

  async fetchToken(): Promise<FetchOutcome> {
    this.#issued += 1;
    return {
      status: 'token',
      token: {
        accessToken: `reads-access-${this.#issued}`,
        tokenType: 'Bearer',
        expiresAt: new Date(Date.now() + 60 * MINUTE),
        scopes: null,
        refreshToken: null,
      },
    };
  }
  sourceFor(): TokenSource {
    return this;
  }
  async authorizationUrl(): Promise<string | null> {
    return null;
  }
  async disconnect(): Promise<void> {}
  async close(): Promise<void> {}
}

let dir: string;
let folder: TokenFolder;
let sync: TokenSync;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-sync-reads-'));
  folder = new TokenFolder(path.join(dir, 'tokens'));
  sync = new TokenSync({
    config: {
      providers: [provider],
      refresh: { marginMs: 5 * MINUTE, maxAgeMs: 5 * MINUTE, concurrency: 4 },
    },
    folder,
    sources: new IssuingSource(),
    events: new EventBus(),
    logger: silentLogger(),
  });
});
afterEach(async () => {
  vi.restoreAllMocks();
  await sync.close();
  await rm(dir, { recursive: true, force: true });
});

describe('TokenSync reads the token file once per refreshed sync', () => {
  it('a forced refresh: the write compares against one read, and no read follows it', async () => {
    await sync.sync('alice', 'github');
    const reads = vi.spyOn(folder, 'read');
    const result = await sync.sync('alice', 'github', { mode: 'refresh' });
    expect(result).toMatchObject({ state: 'refreshed', usable: true });
    expect(reads).toHaveBeenCalledTimes(1);
    expect(await folder.read('alice', 'github')).toMatchObject({
      state: 'present',
      file: { access_token: 'reads-access-2', synced_at: result.syncedAt, expires_at: result.expiresAt },
    });
  });

  it('a cached sync of a stale file: one read to judge it, one to compare, none after', async () => {
    await sync.sync('alice', 'github');
    const old = new Date(Date.now() - 60 * MINUTE);
    const file = folder.filePath('alice', 'github');
    await utimes(file, old, old);
    // The file also says it was synced long ago.
    const stored = await folder.read('alice', 'github');
    if (stored.state !== 'present') throw new Error('expected a token file');
    await folder.write('alice', { ...stored.file, access_token: 'stale', synced_at: old.toISOString() }, old);
    await utimes(file, old, old);

    const reads = vi.spyOn(folder, 'read');
    const result = await sync.sync('alice', 'github');
    expect(result).toMatchObject({ state: 'refreshed', fetched: true });
    expect(reads).toHaveBeenCalledTimes(2);
  });
});
