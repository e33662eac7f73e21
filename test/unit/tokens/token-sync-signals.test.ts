import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { NangoProviderConfig, ProviderConfig } from '../../../src/config/types.js';
import { EventBus } from '../../../src/events/event-bus.js';
import type { NanoclawEvent } from '../../../src/events/types.js';
import { silentLogger } from '../../../src/log/logger.js';
import type {
  FetchOutcome,
  FetchTokenRequest,
  TokenSource,
  TokenSources,
} from '../../../src/sources/token-source.js';
import { TokenFolder } from '../../../src/tokens/token-folder.js';
import { TokenSync } from '../../../src/tokens/token-sync.js';

const provider: NangoProviderConfig = {
  name: 'github',
  source: 'nango',
  integration: 'github',
  scopes: [],
  exposeRefreshToken: false,
  connections: {},
};

interface PendingRequest {
  request: FetchTokenRequest;
  answer: (accessToken: string) => void;
}

/**
 * A source whose requests wait until the test answers them, and which gives up on a request the
 * moment its signal aborts, as a real HTTP request does.
 */
class HeldSource implements TokenSource, TokenSources {
  readonly kind = 'nango' as const;
  readonly pending: PendingRequest[] = [];
  readonly requests: FetchTokenRequest[] = [];

  fetchToken(request: FetchTokenRequest): Promise<FetchOutcome> {
    this.requests.push(request);
    return new Promise((resolve, reject) => {
      request.signal.addEventListener('abort', () => reject(request.signal.reason), { once: true });
      this.pending.push({
        request,
        answer: (accessToken) =>
          resolve({
            status: 'token',
            token: {
              accessToken,
              tokenType: 'Bearer',
              expiresAt: new Date(Date.now() + 3_600_000),
              scopes: null,
              refreshToken: null,
            },
          }),
      });
    });
  }

  /** Waits until `count` requests have reached the source. */
  async requested(count: number): Promise<void> {
    await vi.waitFor(() => expect(this.requests.length).toBeGreaterThanOrEqual(count));
  }

  sourceFor(_provider: ProviderConfig): TokenSource {
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
let source: HeldSource;
let events: NanoclawEvent[];
let tokenSync: TokenSync;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-sync-signals-'));
  folder = new TokenFolder(path.join(dir, 'tokens'));
  source = new HeldSource();
  events = [];
  const bus = new EventBus();
  bus.subscribe((event) => events.push(event));
  tokenSync = new TokenSync({
    config: { providers: [provider], refresh: { marginMs: 300_000, maxAgeMs: 300_000, concurrency: 4 } },
    folder,
    sources: source,
    events: bus,
    logger: silentLogger(),
  });
});

afterEach(async () => {
  await tokenSync.close();
  await rm(dir, { recursive: true, force: true });
});

async function accessTokenOnDisk(): Promise<string | null> {
  try {
    return (
      JSON.parse(await readFile(folder.filePath('alice', 'github'), 'utf8')) as { access_token: string }
    ).access_token;
  } catch {
    return null;
  }
}

describe('TokenSync: callers who share a request', () => {
  it("are not failed by the first caller's abort, and the file is written", async () => {
    const first = new AbortController();
    const firstCall = tokenSync.sync('alice', 'github', { signal: first.signal });
    await source.requested(1);
    const joiner = tokenSync.sync('alice', 'github');

    first.abort(new Error('the HTTP client went away'));
    expect(await firstCall).toMatchObject({
      state: 'error',
      usable: false,
      fetched: false,
      message: 'the HTTP client went away',
    });
    expect(source.requests[0]!.signal.aborted).toBe(false);

    source.pending[0]!.answer('shared-access-1');
    expect(await joiner).toMatchObject({ state: 'refreshed', usable: true });
    expect(await accessTokenOnDisk()).toBe('shared-access-1');
    expect(source.requests).toHaveLength(1);
    // Giving up is no failure: nobody is told about an error.
    expect(events.filter((event) => event.type === 'error')).toEqual([]);
  });

  it('write the file even when the only caller gave up', async () => {
    const caller = new AbortController();
    const call = tokenSync.sync('alice', 'github', { signal: caller.signal });
    await source.requested(1);
    caller.abort(new Error('run cancelled'));
    expect(await call).toMatchObject({ state: 'error', message: 'run cancelled' });

    source.pending[0]!.answer('kept-after-cancel');
    await vi.waitFor(async () => expect(await accessTokenOnDisk()).toBe('kept-after-cancel'));
  });

  it('answer at once, without asking the source, for a signal that is already aborted', async () => {
    const result = await tokenSync.sync('alice', 'github', { signal: AbortSignal.abort(new Error('gone')) });
    expect(result).toMatchObject({ state: 'error', message: 'gone' });
    expect(source.requests).toEqual([]);
  });
});

describe('TokenSync: recheck and refresh', () => {
  it('a recheck asks the source again without making it refresh', async () => {
    const recheck = tokenSync.sync('alice', 'github', { mode: 'recheck' });
    await source.requested(1);
    source.pending[0]!.answer('checked');
    expect(await recheck).toMatchObject({ state: 'refreshed' });
    expect(source.requests.map((request) => request.mode)).toEqual(['recheck']);
  });

  it('a recheck and a refresh asked together share one request, which refreshes', async () => {
    const recheck = tokenSync.sync('alice', 'github', { mode: 'recheck' });
    const refresh = tokenSync.sync('alice', 'github', { mode: 'refresh' });
    await source.requested(1);
    source.pending[0]!.answer('refreshed');
    expect(await recheck).toMatchObject({ state: 'refreshed' });
    expect(await refresh).toMatchObject({ state: 'refreshed' });
    expect(source.requests.map((request) => request.mode)).toEqual(['refresh']);
  });
});

describe('TokenSync: a forced sync', () => {
  it('joining a plain fetch in flight still gets a forced fetch of its own, started after it', async () => {
    const plain = tokenSync.sync('alice', 'github');
    await source.requested(1);
    const forced = tokenSync.sync('alice', 'github', { force: true });
    const forcedToo = tokenSync.sync('alice', 'github', { force: true });

    source.pending[0]!.answer('before-authorization');
    expect(await plain).toMatchObject({ state: 'refreshed' });
    await source.requested(2);
    expect(source.requests.map((request) => request.mode)).toEqual(['cached', 'refresh']);

    source.pending[1]!.answer('after-authorization');
    expect(await forced).toMatchObject({ state: 'refreshed' });
    expect(await forcedToo).toMatchObject({ state: 'refreshed' });
    expect(await accessTokenOnDisk()).toBe('after-authorization');
    expect(source.requests).toHaveLength(2);
  });

  it('is shared by a plain sync that arrives while it runs', async () => {
    const forced = tokenSync.sync('alice', 'github', { force: true });
    await source.requested(1);
    const plain = tokenSync.sync('alice', 'github');
    source.pending[0]!.answer('forced-once');
    expect(await Promise.all([forced, plain])).toMatchObject([
      { state: 'refreshed' },
      { state: 'refreshed' },
    ]);
    expect(source.requests).toHaveLength(1);
  });
});

describe('TokenSync.syncMany with a signal', () => {
  it("adds one listener to the caller's signal however many targets, so Node warns of no leak", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const owners = Array.from({ length: 30 }, (_, index) => `owner-${index}`);
      const caller = new AbortController();
      const listening = tokenSync.syncMany(
        owners.map((owner) => ({ owner, provider: 'github' })),
        { signal: caller.signal },
      );
      await source.requested(4);
      for (let answered = 0; answered < owners.length; answered++) {
        await source.requested(answered + 1);
        source.pending[answered]!.answer(`many-${answered}`);
      }
      const results = await listening;
      expect(results.every((result) => result.state === 'refreshed')).toBe(true);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('TokenSync.close', () => {
  it('cuts the shared request short, waits for it, and reports no error', async () => {
    const call = tokenSync.sync('alice', 'github');
    await source.requested(1);

    await tokenSync.close();

    expect(source.requests[0]!.signal.aborted).toBe(true);
    expect(await call).toMatchObject({ state: 'error', code: 'TOKEN_SYNC_CLOSED' });
    expect(events.filter((event) => event.type === 'error')).toEqual([]);
    expect(await tokenSync.sync('alice', 'github')).toMatchObject({
      state: 'error',
      code: 'TOKEN_SYNC_CLOSED',
    });
    expect(source.requests).toHaveLength(1);
  });
});
