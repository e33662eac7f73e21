import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NangoProviderConfig, ProviderConfig } from '../../../src/config/types.js';
import { InvalidSourceResponseError, TokenSourceConfigError } from '../../../src/errors.js';
import { EventBus } from '../../../src/events/event-bus.js';
import type { NanoclawEvent } from '../../../src/events/types.js';
import { createLogger } from '../../../src/log/logger.js';
import type {
  FetchOutcome,
  FetchTokenRequest,
  SourceToken,
  TokenSource,
  TokenSources,
} from '../../../src/sources/token-source.js';
import { TokenFolder } from '../../../src/tokens/token-folder.js';
import { TokenSync } from '../../../src/tokens/token-sync.js';

const MINUTE = 60_000;

function nangoProvider(name: string): NangoProviderConfig {
  return {
    name,
    source: 'nango',
    integration: name,
    scopes: ['read'],
    exposeRefreshToken: false,
    connections: {},
  };
}

/** A token source whose answers the test sets, which records every request and how many ran at once. */
class ScriptedSource implements TokenSource, TokenSources {
  readonly kind = 'nango' as const;
  readonly requests: FetchTokenRequest[] = [];
  answer: (request: FetchTokenRequest) => Promise<FetchOutcome> = async () => ({
    status: 'token',
    token: this.token(),
  });
  delayMs = 0;
  running = 0;
  maxRunning = 0;
  issued: string[] = [];
  #counter = 0;

  token(overrides: Partial<SourceToken> = {}): SourceToken {
    const accessToken = `secret-access-${++this.#counter}-${Math.random().toString(36).slice(2)}`;
    this.issued.push(accessToken);
    return {
      accessToken,
      tokenType: 'Bearer',
      expiresAt: new Date(Date.now() + 60 * MINUTE),
      scopes: null,
      refreshToken: null,
      ...overrides,
    };
  }

  async fetchToken(request: FetchTokenRequest): Promise<FetchOutcome> {
    this.requests.push(request);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
      return await this.answer(request);
    } finally {
      this.running--;
    }
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

class LogSink extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

let dir: string;
let folder: TokenFolder;
let source: ScriptedSource;
let events: NanoclawEvent[];
let logs: LogSink;

function createSync(
  providers: ProviderConfig[],
  refresh: Partial<{ concurrency: number; maxAgeMs: number }> = {},
) {
  const bus = new EventBus();
  bus.subscribe((event) => events.push(event));
  return new TokenSync({
    config: {
      providers,
      refresh: { marginMs: 5 * MINUTE, maxAgeMs: 5 * MINUTE, concurrency: 10, ...refresh },
    },
    folder,
    sources: source,
    events: bus,
    logger: createLogger({ level: 'debug', destination: logs }),
  });
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-sync-'));
  folder = new TokenFolder(path.join(dir, 'tokens'));
  source = new ScriptedSource();
  events = [];
  logs = new LogSink();
});
afterEach(async () => {
  // No token may reach a log line or an event, whatever the test did.
  const visible = `${logs.text}\n${JSON.stringify(events)}`;
  for (const token of source.issued) expect(visible).not.toContain(token);
  await rm(dir, { recursive: true, force: true });
});

describe('TokenSync.sync', () => {
  it('fetches a missing token, writes it and announces it', async () => {
    const sync = createSync([nangoProvider('github')]);
    const result = await sync.sync('alice', 'github');
    expect(result).toMatchObject({
      owner: 'alice',
      provider: 'github',
      state: 'refreshed',
      usable: true,
      fetched: true,
    });
    expect(source.requests).toHaveLength(1);
    expect(source.requests[0]).toMatchObject({ owner: 'alice', mode: 'cached' });
    const file = JSON.parse(await readFile(folder.filePath('alice', 'github'), 'utf8'));
    expect(file.access_token).toBe(source.issued[0]);
    expect(events).toEqual([
      expect.objectContaining({ type: 'token_synced', owner: 'alice', provider: 'github' }),
    ]);
  });

  it('asks no source while the file is fresh', async () => {
    const sync = createSync([nangoProvider('github')]);
    await sync.sync('alice', 'github');
    const again = await sync.sync('alice', 'github');
    expect(again).toMatchObject({ state: 'fresh', fetched: false, usable: true });
    expect(source.requests).toHaveLength(1);
  });

  it('asks again when forced, asking the source to refresh', async () => {
    const sync = createSync([nangoProvider('github')]);
    await sync.sync('alice', 'github');
    expect(await sync.sync('alice', 'github', { force: true })).toMatchObject({ state: 'refreshed' });
    expect(source.requests.map((request) => request.mode)).toEqual(['cached', 'refresh']);
  });

  it('asks again when the token expires within the margin', async () => {
    const sync = createSync([nangoProvider('github')]);
    source.answer = async () => ({
      status: 'token',
      token: source.token({ expiresAt: new Date(Date.now() + 4 * MINUTE) }),
    });
    await sync.sync('alice', 'github');
    await sync.sync('alice', 'github');
    expect(source.requests).toHaveLength(2);
  });

  it('reports an unchanged token as fresh, without rewriting or announcing it', async () => {
    const sync = createSync([nangoProvider('github')], { maxAgeMs: 0 });
    const token = source.token();
    source.answer = async () => ({ status: 'token', token });
    await sync.sync('alice', 'github');
    const inode = (await stat(folder.filePath('alice', 'github'))).ino;
    events.length = 0;
    expect(await sync.sync('alice', 'github')).toMatchObject({ state: 'fresh', fetched: true });
    expect((await stat(folder.filePath('alice', 'github'))).ino).toBe(inode);
    expect(events).toEqual([]);
  });

  it('removes the file and says so when the owner must authorize again', async () => {
    const sync = createSync([nangoProvider('github')]);
    await sync.sync('alice', 'github');
    source.answer = async () => ({
      status: 'needs_auth',
      code: 'REFRESH_FAILED',
      reason: 'the provider refused',
    });
    const result = await sync.sync('alice', 'github', { force: true });
    expect(result).toMatchObject({
      state: 'needs-auth',
      usable: false,
      code: 'REFRESH_FAILED',
      expiresAt: null,
    });
    await expect(stat(folder.filePath('alice', 'github'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(events.at(-1)).toMatchObject({ type: 'token_needs_auth', owner: 'alice', provider: 'github' });
  });

  it('leaves a good file byte for byte when the source is unavailable', async () => {
    const sync = createSync([nangoProvider('github')]);
    await sync.sync('alice', 'github');
    const file = folder.filePath('alice', 'github');
    const before = await readFile(file);
    const beforeStat = await stat(file);
    source.answer = async () => ({
      status: 'unavailable',
      code: 'SOURCE_ERROR',
      reason: 'HTTP 503',
      retryAfterMs: 1000,
    });
    const result = await sync.sync('alice', 'github', { force: true });
    expect(result).toMatchObject({
      state: 'unavailable',
      usable: true,
      code: 'SOURCE_ERROR',
      retryAfterMs: 1000,
    });
    expect(await readFile(file)).toEqual(before);
    expect((await stat(file)).mtimeMs).toBe(beforeStat.mtimeMs);
  });

  it.each([
    ['a configuration error', new TokenSourceConfigError('check NANGO_SECRET_KEY'), 'TOKEN_SOURCE_CONFIG'],
    ['a malformed answer', new InvalidSourceResponseError('malformed connection'), 'INVALID_SOURCE_RESPONSE'],
    ['an unexpected failure', new Error('boom'), 'INTERNAL'],
  ])('turns %s into an error result and keeps the file', async (_label, error, code) => {
    const sync = createSync([nangoProvider('github'), nangoProvider('slack')]);
    await sync.sync('alice', 'github');
    const before = await readFile(folder.filePath('alice', 'github'));
    source.answer = async () => {
      throw error;
    };
    expect(await sync.sync('alice', 'github', { force: true })).toMatchObject({
      state: 'error',
      code,
      usable: true,
    });
    expect(await readFile(folder.filePath('alice', 'github'))).toEqual(before);
    expect(await sync.sync('alice', 'slack')).toMatchObject({ state: 'error', code, usable: false });
    expect(await folder.read('alice', 'slack')).toEqual({ state: 'missing' });
    expect(events.at(-1)).toMatchObject({ type: 'error', code, owner: 'alice', provider: 'slack' });
  });

  it('makes one source request for many concurrent callers of one token', async () => {
    const sync = createSync([nangoProvider('github')]);
    source.delayMs = 20;
    const results = await Promise.all(Array.from({ length: 20 }, () => sync.sync('alice', 'github')));
    expect(source.requests).toHaveLength(1);
    expect(new Set(results.map((result) => result.state))).toEqual(new Set(['refreshed']));
  });

  it('keeps owners apart', async () => {
    const sync = createSync([nangoProvider('github')]);
    await Promise.all([sync.sync('alice', 'github'), sync.sync('bob', 'github')]);
    expect(source.requests.map((request) => request.owner).sort()).toEqual(['alice', 'bob']);
    const alice = JSON.parse(await readFile(folder.filePath('alice', 'github'), 'utf8'));
    const bob = JSON.parse(await readFile(folder.filePath('bob', 'github'), 'utf8'));
    expect(alice.access_token).not.toBe(bob.access_token);
  });

  it('refuses a provider that is not configured and a name that is not a name', async () => {
    const sync = createSync([nangoProvider('github')]);
    await expect(sync.sync('alice', 'gitlab')).rejects.toMatchObject({ code: 'UNKNOWN_PROVIDER' });
    await expect(sync.sync('../x', 'github')).rejects.toMatchObject({ code: 'INVALID_NAME' });
    expect(source.requests).toEqual([]);
  });
});

describe('TokenSync.syncMany', () => {
  it('fetches in parallel but never more than the concurrency bound at once', async () => {
    const providers = Array.from({ length: 12 }, (_, index) => nangoProvider(`provider-${index}`));
    const sync = createSync(providers, { concurrency: 3 });
    source.delayMs = 15;
    const results = await sync.syncMany(
      providers.map((provider) => ({ owner: 'alice', provider: provider.name })),
    );
    expect(results.every((result) => result.state === 'refreshed')).toBe(true);
    expect(source.requests).toHaveLength(12);
    expect(source.maxRunning).toBe(3);
    expect(sync.pendingRequests).toBe(0);
  });
});

describe('TokenSync.status and markNeedsAuth', () => {
  it('describes each configured provider from its file alone', async () => {
    const sync = createSync([nangoProvider('github'), nangoProvider('slack')]);
    await sync.sync('alice', 'github');
    const requests = source.requests.length;
    expect(await sync.status('alice')).toEqual([
      expect.objectContaining({ provider: 'github', source: 'nango', state: 'fresh', usable: true }),
      expect.objectContaining({ provider: 'slack', state: 'missing', usable: false, expiresAt: null }),
    ]);
    expect(source.requests).toHaveLength(requests);
  });

  it('removes the file and announces it when told the owner must authorize', async () => {
    const sync = createSync([nangoProvider('github')]);
    await sync.sync('alice', 'github');
    await sync.markNeedsAuth('alice', 'github', 'refresh failed at the source');
    expect(await folder.read('alice', 'github')).toEqual({ state: 'missing' });
    expect(events.at(-1)).toMatchObject({ type: 'token_needs_auth', reason: 'refresh failed at the source' });
  });
});
