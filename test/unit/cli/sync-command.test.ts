import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { statusCommand, type StatusCommandJson } from '../../../src/cli/commands/status.js';
import { exitCodeForSync, syncCommand, type SyncCommandJson } from '../../../src/cli/commands/sync.js';
import { selectOwners } from '../../../src/cli/owners.js';
import { createRuntimeFromConfig, type Runtime } from '../../../src/app/runtime.js';
import { resolveConfig } from '../../../src/config/resolve-config.js';
import { InvalidNameError, UsageError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log/logger.js';
import {
  TokenSourceRegistry,
  type FetchOutcome,
  type TokenSource,
} from '../../../src/sources/token-source.js';
import type { SyncResult } from '../../../src/tokens/sync-result.js';
import type { TokenStatus } from '../../../src/tokens/token-sync.js';

const SECRET = 'secret-access-token-for-cli-tests';

/** Answers per provider name; unknown ones get a token. */
function scriptedSource(answers: Record<string, FetchOutcome | Error> = {}): TokenSource {
  return {
    kind: 'nango',
    async fetchToken({ provider }) {
      const answer = answers[provider.name];
      if (answer instanceof Error) throw answer;
      return (
        answer ?? {
          status: 'token',
          token: {
            accessToken: SECRET,
            tokenType: 'Bearer',
            expiresAt: new Date(Date.now() + 3600_000),
            scopes: null,
            refreshToken: null,
          },
        }
      );
    },
    async authorizationUrl() {
      return null;
    },
    async disconnect() {},
    async close() {},
  };
}

let dir: string;

function runtimeWith(file: unknown, source: TokenSource = scriptedSource()): Runtime {
  const result = resolveConfig(file, { env: { NANGO_SECRET_KEY: 'k' }, cwd: dir, configPath: null });
  if ('errors' in result) throw new Error(result.errors.join('\n'));
  return createRuntimeFromConfig(
    { ...result.config, sandbox: { ...result.config.sandbox, tokenGroup: process.getgid?.() ?? 0 } },
    [],
    {
      logger: silentLogger(),
      sources: { registry: new TokenSourceRegistry({ nango: source }), nango: null },
    },
  );
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-cli-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function result(overrides: Partial<SyncResult>): SyncResult {
  return {
    owner: 'main',
    provider: 'p',
    state: 'refreshed',
    usable: true,
    fetched: true,
    expiresAt: null,
    syncedAt: null,
    code: null,
    message: null,
    retryAfterMs: null,
    ...overrides,
  };
}

describe('exitCodeForSync', () => {
  it.each([
    ['all usable', [result({}), result({ state: 'fresh' })], 0],
    ['nothing to do', [], 0],
    ['unavailable but the file is still usable', [result({ state: 'unavailable', usable: true })], 0],
    ['some need authorization', [result({}), result({ state: 'needs-auth', usable: false })], 3],
    ['unavailable without a usable file', [result({ state: 'unavailable', usable: false })], 1],
    ['a token that had already expired when it arrived', [result({ state: 'refreshed', usable: false })], 1],
    ['an error', [result({ state: 'error', code: 'INVALID_SOURCE_RESPONSE' })], 1],
    [
      'an error beats needs-auth',
      [result({ state: 'needs-auth', usable: false }), result({ state: 'error' })],
      1,
    ],
    [
      'the source refused our configuration',
      [result({ state: 'error', code: 'TOKEN_SOURCE_CONFIG' }), result({ state: 'error' })],
      2,
    ],
  ])('%s -> %i', (_label, results, code) => {
    expect(exitCodeForSync(results as SyncResult[])).toBe(code);
  });
});

describe('syncCommand', () => {
  const file = { providers: [{ name: 'github' }, { name: 'slack' }, { name: 'gone' }] };

  it('syncs every configured provider and returns the stable JSON shape', async () => {
    const runtime = runtimeWith(
      file,
      scriptedSource({
        gone: { status: 'needs_auth', code: 'CONNECTION_NOT_FOUND', reason: 'no connection' },
      }),
    );
    const output = await syncCommand(runtime, {});
    expect(output.exitCode).toBe(3);
    const json = output.json as SyncCommandJson;
    expect(Object.keys(json)).toEqual(['results', 'summary']);
    expect(json.summary).toEqual({ total: 3, usable: 2, needsAuth: 1, errors: 0, unavailable: 0 });
    for (const row of json.results) {
      expect(Object.keys(row).sort()).toEqual([
        'code',
        'expiresAt',
        'fetched',
        'message',
        'owner',
        'provider',
        'retryAfterMs',
        'state',
        'syncedAt',
        'usable',
      ]);
    }
    expect(output.text.split('\n')[0]).toMatch(/^OWNER\s+PROVIDER\s+STATE\s+EXPIRES\s+SYNCED AT\s+DETAIL$/);
    expect(output.text).toMatch(/main\s+gone\s+needs-auth\s+-\s+-\s+no connection/);
    expect(`${output.text}${JSON.stringify(output.json)}`).not.toContain(SECRET);
  });

  it('syncs only the providers named', async () => {
    const output = await syncCommand(runtimeWith(file), { providers: ['slack', 'github', 'slack'] });
    expect((output.json as SyncCommandJson).results.map((row) => row.provider)).toEqual(['slack', 'github']);
  });

  it('refuses a provider that is not configured and a name that is not a name', async () => {
    await expect(syncCommand(runtimeWith(file), { providers: ['gitlab'] })).rejects.toThrow(UsageError);
    await expect(syncCommand(runtimeWith(file), { providers: ['../x'] })).rejects.toThrow(InvalidNameError);
    await expect(syncCommand(runtimeWith(file), { owner: 'a/b' })).rejects.toThrow(InvalidNameError);
  });

  it('says so when nothing is configured', async () => {
    const output = await syncCommand(runtimeWith({}), {});
    expect(output).toMatchObject({ exitCode: 0, json: { results: [] } });
    expect(output.text).toMatch(/No providers are configured/);
  });
});

describe('statusCommand', () => {
  it('returns the stable JSON shape and 3 while a token is missing', async () => {
    const runtime = runtimeWith({ providers: [{ name: 'github' }, { name: 'slack' }] });
    await syncCommand(runtime, { providers: ['github'] });
    const output = await statusCommand(runtime, {});
    expect(output.exitCode).toBe(3);
    const json = output.json as StatusCommandJson;
    expect(Object.keys(json)).toEqual(['tokens']);
    expect(json.tokens.map((token) => [token.provider, token.state, token.usable])).toEqual([
      ['github', 'fresh', true],
      ['slack', 'missing', false],
    ]);
    for (const token of json.tokens) {
      expect(Object.keys(token).sort()).toEqual([
        'checkedAt',
        'expiresAt',
        'owner',
        'provider',
        'source',
        'state',
        'syncedAt',
        'usable',
      ]);
    }
    expect(output.text).toMatch(/^OWNER\s+PROVIDER\s+SOURCE\s+STATE\s+EXPIRES\s+SYNCED AT\n/);
    await syncCommand(runtime, {});
    expect((await statusCommand(runtime, {})).exitCode).toBe(0);
  });
});

describe('the JSON shapes as types', () => {
  it('stay what scripts rely on', () => {
    expectTypeOf<SyncCommandJson>().toEqualTypeOf<{
      results: SyncResult[];
      summary: { total: number; usable: number; needsAuth: number; errors: number; unavailable: number };
    }>();
    expectTypeOf<SyncResult>().toEqualTypeOf<{
      owner: string;
      provider: string;
      state: 'fresh' | 'refreshed' | 'needs-auth' | 'unavailable' | 'error';
      usable: boolean;
      fetched: boolean;
      expiresAt: string | null;
      syncedAt: string | null;
      code: string | null;
      message: string | null;
      retryAfterMs: number | null;
    }>();
    expectTypeOf<StatusCommandJson>().toEqualTypeOf<{ tokens: TokenStatus[] }>();
    expectTypeOf<TokenStatus>().toEqualTypeOf<{
      owner: string;
      provider: string;
      source: 'nango' | 'builtin';
      state: 'fresh' | 'stale' | 'expiring' | 'expired' | 'missing' | 'corrupt';
      usable: boolean;
      expiresAt: string | null;
      syncedAt: string | null;
      checkedAt: string | null;
    }>();
  });
});

describe('selectOwners', () => {
  it('validates --owner, defaults to the configured owner, and finds every owner for --all-owners', async () => {
    const runtime = runtimeWith({ owner: 'team', owners: ['bob', 'alice'], providers: [{ name: 'github' }] });
    expect(await selectOwners(runtime, {})).toEqual(['team']);
    expect(await selectOwners(runtime, { owner: 'carol' })).toEqual(['carol']);
    await expect(selectOwners(runtime, { owner: '..' })).rejects.toThrow(InvalidNameError);
    await runtime.folder.ensureOwnerDir('dave');
    expect(await selectOwners(runtime, { allOwners: true })).toEqual(['alice', 'bob', 'dave', 'team']);
  });
});
