import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_CONNECT_TIMEOUT_SECONDS,
  parseConnectTimeout,
  resolveConnectSettings,
} from '../../../src/cli/connect-options.js';
import type { ProviderConfig } from '../../../src/config/types.js';
import { runCliInProcess } from '../../support/cli.js';

const CLIENT_SECRET = 'unit-test-client-secret-never-printed';
/**
 * The daemon's port in these tests: privileged and unassigned, so nothing answers there and no other
 * test can start listening on it between two steps of this one (as it could on a port chosen free).
 */
const NO_DAEMON_PORT = '1';

const providers = [
  { name: 'google-calendar', source: 'nango', integration: 'google-calendar', connections: {} },
  { name: 'example', source: 'builtin', grant: 'authorization_code' },
] as unknown as ProviderConfig[];

describe('connect flags', () => {
  it('--timeout takes whole seconds from 1 to a day, 15 minutes by default', () => {
    expect(parseConnectTimeout(undefined)).toBe(DEFAULT_CONNECT_TIMEOUT_SECONDS * 1000);
    expect(parseConnectTimeout('1')).toBe(1000);
    expect(parseConnectTimeout('86400')).toBe(86_400_000);
    for (const bad of ['0', '-1', '1.5', '', ' 5', 'ten', '86401', '9999999']) {
      expect(() => parseConnectTimeout(bad), bad).toThrow(/^--timeout: expected whole seconds/);
    }
  });

  it('takes a configured provider and a valid owner, the configured owner by default', () => {
    const settings = resolveConnectSettings({ provider: 'example' }, { providers, defaultOwner: 'main' });
    expect(settings).toMatchObject({ owner: 'main', wait: true, json: false, timeoutMs: 900_000 });
    expect(settings.provider.name).toBe('example');
    expect(
      resolveConnectSettings(
        { provider: 'google-calendar', owner: 'team.alpha', wait: false, timeout: '30', json: true },
        { providers, defaultOwner: 'main' },
      ),
    ).toMatchObject({ owner: 'team.alpha', wait: false, timeoutMs: 30_000, json: true });
  });

  it('refuses an unknown provider as usage, and invalid names with their rule', () => {
    const configured = { providers, defaultOwner: 'main' };
    expect(() => resolveConnectSettings({ provider: 'github' }, configured)).toThrow(
      expect.objectContaining({
        code: 'USAGE',
        message: expect.stringContaining('"github" is not configured'),
      }),
    );
    expect(() => resolveConnectSettings({ provider: 'Bad Name' }, configured)).toThrow(
      expect.objectContaining({ code: 'INVALID_NAME' }),
    );
    expect(() => resolveConnectSettings({ provider: 'example', owner: '../etc' }, configured)).toThrow(
      expect.objectContaining({ code: 'INVALID_NAME', message: expect.stringContaining('invalid owner id') }),
    );
  });
});

describe('nanoclaw connect from the command line', () => {
  let dir: string;
  let env: Record<string, string>;
  let server: Server | null = null;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-connect-unit-'));
    env = { NANOCLAW_DATA_DIR: path.join(dir, 'data'), NANOCLAW_PORT: NO_DAEMON_PORT, SECRET: CLIENT_SECRET };
    await writeFile(
      path.join(dir, 'nanoclaw.config.yaml'),
      JSON.stringify({
        providers: [
          {
            name: 'example',
            source: 'builtin',
            authorizationUrl: 'https://auth.example.invalid/authorize',
            tokenUrl: 'https://auth.example.invalid/token',
            clientId: 'nanoclaw',
            clientSecret: '${SECRET}',
            scopes: ['read'],
          },
        ],
      }),
    );
  });

  afterEach(async () => {
    if (server) await new Promise((resolve) => server!.close(resolve));
    server = null;
    await rm(dir, { recursive: true, force: true });
  });

  const run = (args: string[], signal?: AbortSignal) =>
    runCliInProcess(['connect', ...args], { cwd: dir, env, ...(signal ? { signal } : {}) });

  it.each([
    [['nope'], 'provider "nope" is not configured'],
    [['example', '--owner', 'no/slashes'], 'invalid owner id'],
    [['example', '--timeout', '0'], '--timeout: expected whole seconds'],
    [[], "missing required argument 'provider'"],
  ])('exits 2 for %j', async (args, message) => {
    const result = await run(args);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stdout).toBe('');
  });

  it('prints usage errors as JSON with --json', async () => {
    const result = await run(['nope', '--json']);
    expect(result.exitCode).toBe(2);
    expect(JSON.parse(result.stdout)).toEqual({
      error: { code: 'USAGE', message: 'provider "nope" is not configured (see nanoclaw.config.yaml)' },
    });
  });

  it('will not print a built-in link with --no-wait when no daemon would answer its callback', async () => {
    const result = await run(['example', '--no-wait']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('--no-wait needs a running daemon ("nanoclaw serve") for example');
    expect(result.stdout).toBe('');
  });

  it('needs a fixed port to answer the callback itself', async () => {
    env.NANOCLAW_PORT = '0';
    const result = await run(['example']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('server.port is 0');
  });

  it('says so when a server at the daemon address refuses the API token, and sends it nowhere else', async () => {
    const seen: Array<string | undefined> = [];
    server = createServer((request, response) => {
      seen.push(request.headers.authorization);
      response.writeHead(401, { 'content-type': 'application/json' }).end('{}');
    });
    // Bound first on a port of the kernel's choosing, then named as the daemon's: no port to lose meanwhile.
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    env.NANOCLAW_PORT = String((server.address() as AddressInfo).port);
    env.NANOCLAW_API_TOKEN = 'an-api-token-of-some-length';
    const result = await run(['example']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('refused this configuration');
    expect(result.stderr).toContain('(DAEMON_REFUSED)');
    expect(seen).toEqual(['Bearer an-api-token-of-some-length']);
    expect(result.stderr + result.stdout).not.toContain('an-api-token-of-some-length');
  });

  it('exits 130 with a result line when interrupted before there is a link', async () => {
    const interrupted = new AbortController();
    interrupted.abort(new Error('interrupted'));
    const result = await run(['example', '--json'], interrupted.signal);
    expect(result.exitCode).toBe(130);
    expect(
      result.stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as unknown),
    ).toEqual([
      {
        type: 'result',
        provider: 'example',
        owner: 'main',
        source: 'builtin',
        outcome: 'interrupted',
        link: null,
        tokenFile: path.join(dir, 'data', 'tokens', 'main', 'example.json'),
        result: null,
        refusal: null,
      },
    ]);
    expect(result.stdout + result.stderr).not.toContain(CLIENT_SECRET);
  });
});
