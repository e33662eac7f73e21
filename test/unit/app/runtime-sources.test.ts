import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRuntimeFromConfig, type Runtime } from '../../../src/app/runtime.js';
import { statusCommand } from '../../../src/cli/commands/status.js';
import { syncCommand } from '../../../src/cli/commands/sync.js';
import { resolveConfig } from '../../../src/config/resolve-config.js';
import { silentLogger } from '../../../src/log/logger.js';
import { createSources } from '../../../src/sources/create-sources.js';
import { TokenSourceRegistry, type TokenSource } from '../../../src/sources/token-source.js';
import { buildTokenFile } from '../../../src/tokens/token-file.js';

// Counts the builds; each still builds the real sources unless a test says otherwise.
vi.mock('../../../src/sources/create-sources.js', async (importOriginal) => {
  const actual = await importOriginal<{ createSources: typeof createSources }>();
  return { ...actual, createSources: vi.fn(actual.createSources) };
});
const builds = vi.mocked(createSources);

const ACCESS_TOKEN = 'access-token-of-runtime-sources-tests';

let dir: string;
let runtime: Runtime | null = null;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-runtime-sources-'));
  builds.mockClear();
});
afterEach(async () => {
  await runtime?.close();
  runtime = null;
  await rm(dir, { recursive: true, force: true });
});

/** A runtime with a Nango and a built-in provider, as the configuration builds it. */
function newRuntime(): Runtime {
  const result = resolveConfig(
    {
      providers: [
        { name: 'github', source: 'nango' },
        { name: 'acme', source: 'builtin', clientId: 'c', issuer: 'https://id.acme.test' },
      ],
    },
    { env: { NANGO_SECRET_KEY: 'k' }, cwd: dir, configPath: null },
  );
  if ('errors' in result) throw new Error(result.errors.join('\n'));
  const config = {
    ...result.config,
    sandbox: { ...result.config.sandbox, tokenGroup: process.getgid?.() ?? 0 },
  };
  runtime = createRuntimeFromConfig(config, [], { logger: silentLogger() });
  return runtime;
}

/** Fresh token files for every provider, as an earlier sync left them. */
async function writeFreshFiles(target: Runtime): Promise<void> {
  const now = new Date();
  for (const provider of target.tokenSync.providers) {
    const token = {
      accessToken: ACCESS_TOKEN,
      tokenType: 'Bearer',
      expiresAt: new Date(now.getTime() + 3600_000),
      scopes: null,
      refreshToken: null,
    };
    await target.folder.save('main', buildTokenFile(provider, token, now), now);
  }
}

function answeringSource(kind: TokenSource['kind']): TokenSource & { closed: boolean } {
  return {
    kind,
    closed: false,
    fetchToken: async () => ({
      status: 'token',
      token: {
        accessToken: ACCESS_TOKEN,
        tokenType: 'Bearer',
        expiresAt: new Date(Date.now() + 3600_000),
        scopes: null,
        refreshToken: null,
      },
    }),
    authorizationUrl: async () => null,
    disconnect: async () => {},
    async close() {
      this.closed = true;
    },
  };
}

describe('the runtime builds its token sources on first use', () => {
  it('building the runtime, a status and closing build none', async () => {
    const target = newRuntime();
    await writeFreshFiles(target);

    const status = await statusCommand(target, {});
    expect(status.exitCode).toBe(0);
    await target.close();

    expect(builds).not.toHaveBeenCalled();
  });

  it('a sync that finds every file fresh builds none', async () => {
    const target = newRuntime();
    await writeFreshFiles(target);

    const sync = await syncCommand(target, { signal: new AbortController().signal });

    expect(sync.exitCode).toBe(0);
    expect((sync.json as { results: Array<{ fetched: boolean }> }).results).toEqual([
      expect.objectContaining({ fetched: false }),
      expect.objectContaining({ fetched: false }),
    ]);
    expect(builds).not.toHaveBeenCalled();
  });

  it('a sync that must fetch builds them once, and closing the runtime closes them', async () => {
    const nango = answeringSource('nango');
    const builtin = answeringSource('builtin');
    builds.mockImplementationOnce(() => ({
      registry: new TokenSourceRegistry({ nango, builtin }),
      nango: null,
      builtin: null,
    }));
    const target = newRuntime();

    const sync = await syncCommand(target, { signal: new AbortController().signal });

    expect(sync.exitCode).toBe(0);
    expect(builds).toHaveBeenCalledTimes(1);
    // Built from the configuration, as before: the same sources for every later use.
    expect(builds.mock.calls[0]![0]).toBe(target.config);
    expect(target.sources.registry.sourceFor(target.tokenSync.provider('github'))).toBe(nango);
    expect(builds).toHaveBeenCalledTimes(1);

    await target.close();
    expect([nango.closed, builtin.closed]).toEqual([true, true]);
  });

  it('reading the sources builds the ones the configuration asks for', () => {
    const target = newRuntime();

    const { nango, builtin, registry } = target.sources;

    expect(builds).toHaveBeenCalledTimes(1);
    expect(nango?.kind).toBe('nango');
    expect(builtin?.kind).toBe('builtin');
    expect(registry.sourceFor(target.tokenSync.provider('acme'))).toBe(builtin);
    expect(target.tokenSources.sourceFor(target.tokenSync.provider('github'))).toBe(nango);
  });

  it('a closed runtime builds none any more', async () => {
    const target = newRuntime();
    await target.close();

    expect(() => target.sources).toThrow(expect.objectContaining({ code: 'RUNTIME_CLOSED' }));
    expect(() => target.tokenSources.sourceFor(target.tokenSync.provider('github'))).toThrow(
      expect.objectContaining({ code: 'RUNTIME_CLOSED' }),
    );
    expect(builds).not.toHaveBeenCalled();
  });

  it("sources handed in are the runtime's to close, used or not", async () => {
    const nango = answeringSource('nango');
    const result = resolveConfig(
      { providers: [{ name: 'github', source: 'nango' }] },
      { env: { NANGO_SECRET_KEY: 'k' }, cwd: dir, configPath: null },
    );
    if ('errors' in result) throw new Error(result.errors.join('\n'));
    const target = createRuntimeFromConfig(result.config, [], {
      logger: silentLogger(),
      sources: { registry: new TokenSourceRegistry({ nango }), nango: null },
    });

    await target.close();

    expect(nango.closed).toBe(true);
    expect(builds).not.toHaveBeenCalled();
  });
});
