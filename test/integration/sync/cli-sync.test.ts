import { readFile, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StatusCommandJson } from '../../../src/cli/commands/status.js';
import type { SyncCommandJson } from '../../../src/cli/commands/sync.js';
import { FakeNangoServer, nangoReplies } from '../../support/fake-nango-server.js';
import { jsonOf, Project } from './project.js';

/** The file from the issue, which must keep working as the format grows. */
const SMALLEST_CONFIG = {
  providers: [
    { name: 'google-calendar', integration: 'google-calendar', scopes: ['calendar', 'calendar.events'] },
  ],
};

let server: FakeNangoServer;
let project: Project;

beforeEach(async () => {
  server = await FakeNangoServer.start();
});
afterEach(async () => {
  // Whatever a test did, no token and no key may have reached stdout or stderr of any run.
  const leaks = project.leaks([...server.secrets, 'wrong-key-0123456789']);
  await server.close();
  await project.remove();
  expect(leaks).toEqual([]);
});

describe('nanoclaw sync as a process', () => {
  it('writes the token file with the right modes and prints the stable JSON shape', async () => {
    project = await Project.create(server, SMALLEST_CONFIG);
    const connection = server.addConnection({ integration: 'google-calendar', endUserId: 'main' });

    const run = await project.spawn(['sync', '--json']);
    expect(run.exitCode).toBe(0);
    const json = jsonOf<SyncCommandJson>(run);
    expect(Object.keys(json)).toEqual(['results', 'summary']);
    expect(json.summary).toEqual({ total: 1, usable: 1, needsAuth: 0, errors: 0, unavailable: 0 });
    expect(json.results).toEqual([
      {
        owner: 'main',
        provider: 'google-calendar',
        state: 'refreshed',
        usable: true,
        fetched: true,
        expiresAt: connection.expiresAt!.toISOString(),
        syncedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        code: null,
        message: null,
        retryAfterMs: null,
      },
    ]);

    const file = project.tokenPath('main', 'google-calendar');
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o750);
    expect((await stat(file)).mode & 0o777).toBe(0o640);
    expect(await project.readToken('main', 'google-calendar')).toEqual({
      provider: 'google-calendar',
      access_token: connection.accessToken,
      token_type: 'Bearer',
      expires_at: connection.expiresAt!.toISOString(),
      scopes: ['calendar', 'calendar.events'],
      synced_at: json.results[0]!.syncedAt,
    });

    // The owner's connection was found by listing its end user's connections, then read once.
    expect(
      server.requests.map((request) => [request.route, request.query.endUserId ?? request.connectionId]),
    ).toEqual([
      ['listConnections', 'main'],
      ['getConnection', connection.connectionId],
    ]);
    expect(server.requests[1]!.query).toMatchObject({
      provider_config_key: 'google-calendar',
      force_refresh: 'false',
      refresh_token: 'false',
    });
  });

  it('prints a table for people and status reads the files without asking the source', async () => {
    project = await Project.create(server, { providers: [{ name: 'github' }, { name: 'slack' }] });
    server.addConnection({ integration: 'github', connectionId: 'main', expiresAt: null });
    server.reply({ route: 'getConnection', integration: 'slack' }, nangoReplies.notFound());

    const sync = await project.spawn(['sync']);
    expect(sync.exitCode).toBe(3);
    expect(sync.stdout).toMatch(/^OWNER\s+PROVIDER\s+STATE\s+EXPIRES\s+SYNCED AT\s+DETAIL\n/);
    expect(sync.stdout).toMatch(/main\s+github\s+refreshed\s+never\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ/);
    expect(sync.stdout).toMatch(/main\s+slack\s+needs-auth\s+-\s+-\s+Nango has no connection/);

    server.resetStats();
    const status = await project.spawn(['status', '--json']);
    expect(status.exitCode).toBe(3);
    const json = jsonOf<StatusCommandJson>(status);
    expect(json.tokens.map((token) => [token.provider, token.state, token.usable])).toEqual([
      ['github', 'fresh', true],
      ['slack', 'missing', false],
    ]);
    expect(server.requests).toEqual([]);
  });

  it('exits 2 with every config problem as `path: message`', async () => {
    project = await Project.create(server, {
      providers: [{ name: 'a' }, { name: 'b' }, { name: 'c', scopes: 'calendar' }, { name: '../x' }],
    });
    const run = await project.spawn(['sync']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('providers[2].scopes: expected an array of strings');
    expect(run.stderr).toContain('providers[3].name: expected a provider name');
    expect(run.stdout).toBe('');

    const json = await project.spawn(['sync', '--json']);
    expect(json.exitCode).toBe(2);
    expect(jsonOf(json)).toEqual({
      error: {
        code: 'INVALID_CONFIG',
        message: expect.stringContaining('invalid configuration'),
        problems: [
          'providers[2].scopes: expected an array of strings',
          'providers[3].name: expected a provider name: 1-64 lowercase letters, digits, "_", "." or "-"',
        ],
      },
    });
    expect(server.requests).toEqual([]);
  });

  it('exits 2 naming NANGO_SECRET_KEY when Nango refuses the key, and never prints the key', async () => {
    project = await Project.create(server, SMALLEST_CONFIG);
    server.addConnection({ integration: 'google-calendar', endUserId: 'main' });
    const run = await project.spawn(['sync'], { ...project.env, NANGO_SECRET_KEY: 'wrong-key-0123456789' });
    expect(run.exitCode).toBe(2);
    expect(run.stdout).toMatch(/google-calendar\s+error\s+.*NANGO_SECRET_KEY/);
    expect(`${run.stdout}${run.stderr}`).not.toContain('wrong-key');
    expect(server.requests.length).toBeGreaterThan(0);
    expect(await stat(project.tokenPath('main', 'google-calendar')).catch(() => null)).toBeNull();
  });
});

describe('nanoclaw sync', () => {
  beforeEach(async () => {
    project = await Project.create(server, SMALLEST_CONFIG);
  });

  it('asks nothing while the file is fresh', async () => {
    server.addConnection({ integration: 'google-calendar', endUserId: 'main' });
    expect((await project.run(['sync'])).exitCode).toBe(0);
    server.resetStats();
    const again = await project.run(['sync', '--json']);
    expect(again.exitCode).toBe(0);
    expect(jsonOf<SyncCommandJson>(again).results[0]).toMatchObject({ state: 'fresh', fetched: false });
    expect(server.requests).toEqual([]);
  });

  it('--force asks Nango to refresh and writes the new token', async () => {
    const connection = server.addConnection({ integration: 'google-calendar', endUserId: 'main' });
    expect((await project.run(['sync'])).exitCode).toBe(0);
    const before = connection.accessToken;
    const run = await project.run(['sync', '--force', '--json']);
    expect(jsonOf<SyncCommandJson>(run).results[0]).toMatchObject({ state: 'refreshed' });
    const forced = server.requestsTo('getConnection').at(-1)!;
    expect(forced.query.force_refresh).toBe('true');
    expect(connection.accessToken).not.toBe(before);
    expect((await project.readToken('main', 'google-calendar')).access_token).toBe(connection.accessToken);
  });

  it('does not rewrite an identical token: same inode and content, a later modification time', async () => {
    await project.writeConfig({ ...SMALLEST_CONFIG, refresh: { maxAge: 0 } });
    server.addConnection({ integration: 'google-calendar', endUserId: 'main' });
    expect((await project.run(['sync'])).exitCode).toBe(0);
    const file = project.tokenPath('main', 'google-calendar');
    const content = await readFile(file);
    const old = new Date(Date.now() - 3600_000);
    await utimes(file, old, old);
    const inode = (await stat(file)).ino;

    const run = await project.run(['sync', '--json']);
    expect(jsonOf<SyncCommandJson>(run).results[0]).toMatchObject({ state: 'fresh', fetched: true });
    expect(server.requestsTo('getConnection')).toHaveLength(2);
    const after = await stat(file);
    expect(after.ino).toBe(inode);
    expect(await readFile(file)).toEqual(content);
    expect(after.mtimeMs).toBeGreaterThan(old.getTime() + 1000);
  });

  it('writes the scopes the provider granted, and the refresh token only when opted in', async () => {
    await project.writeConfig({
      providers: [
        { name: 'google-calendar', scopes: ['calendar'] },
        { name: 'github', scopes: ['repo'], exposeRefreshToken: true },
      ],
    });
    server.addConnection({
      integration: 'google-calendar',
      endUserId: 'main',
      scope: 'calendar.readonly openid',
    });
    const github = server.addConnection({ integration: 'github', endUserId: 'main' });
    expect((await project.run(['sync'])).exitCode).toBe(0);

    const calendar = await project.readToken('main', 'google-calendar');
    expect(calendar.scopes).toEqual(['calendar.readonly', 'openid']);
    expect(calendar).not.toHaveProperty('refresh_token');
    expect(
      server.requestsTo('getConnection', { integration: 'google-calendar' })[0]!.query.refresh_token,
    ).toBe('false');

    const githubFile = await project.readToken('main', 'github');
    expect(githubFile.scopes).toEqual(['repo']);
    expect(githubFile.refresh_token).toBe(github.refreshToken);
    expect(server.requestsTo('getConnection', { integration: 'github' })[0]!.query.refresh_token).toBe(
      'true',
    );
  });

  it('--all-owners syncs every owner into its own folder with its own token', async () => {
    await project.writeConfig({ ...SMALLEST_CONFIG, owners: ['alice', 'bob'] });
    const tokens = Object.fromEntries(
      ['main', 'alice', 'bob'].map((owner) => [
        owner,
        server.addConnection({ integration: 'google-calendar', endUserId: owner }).accessToken,
      ]),
    );
    const run = await project.run(['sync', '--all-owners', '--json']);
    expect(run.exitCode).toBe(0);
    expect(jsonOf<SyncCommandJson>(run).results.map((row) => [row.owner, row.state])).toEqual([
      ['alice', 'refreshed'],
      ['bob', 'refreshed'],
      ['main', 'refreshed'],
    ]);
    for (const owner of ['main', 'alice', 'bob']) {
      expect((await project.readToken(owner, 'google-calendar')).access_token).toBe(tokens[owner]);
    }
    expect(
      server
        .requestsTo('listConnections')
        .map((request) => request.query.endUserId)
        .sort(),
    ).toEqual(['alice', 'bob', 'main']);

    const status = jsonOf<StatusCommandJson>(await project.run(['status', '--all-owners', '--json']));
    expect(status.tokens.map((token) => [token.owner, token.usable])).toEqual([
      ['alice', true],
      ['bob', true],
      ['main', true],
    ]);
    const one = jsonOf<SyncCommandJson>(await project.run(['sync', '--owner', 'bob', '--json']));
    expect(one.results.map((row) => row.owner)).toEqual(['bob']);
  });

  it('uses a fixed connection id from the config, escaped in the URL', async () => {
    await project.writeConfig({
      providers: [{ name: 'google-calendar', connections: { main: 'team/alpha?x#1' } }],
    });
    const connection = server.addConnection({
      integration: 'google-calendar',
      connectionId: 'team/alpha?x#1',
    });
    expect((await project.run(['sync'])).exitCode).toBe(0);
    expect(server.requestsTo('listConnections')).toEqual([]);
    expect(server.requestsTo('getConnection')[0]!.connectionId).toBe('team/alpha?x#1');
    expect((await project.readToken('main', 'google-calendar')).access_token).toBe(connection.accessToken);
  });

  it.each([
    ['404 not_found', nangoReplies.notFound(), 'CONNECTION_NOT_FOUND'],
    ['400 invalid_credentials', nangoReplies.invalidCredentials(), 'REFRESH_FAILED'],
    ['424 invalid_credentials, refresh limit reached', nangoReplies.refreshExhausted(), 'REFRESH_EXHAUSTED'],
    [
      '424 invalid_credentials with a message that is not the cooldown',
      { status: 424, body: { error: { code: 'invalid_credentials', message: 'Something else failed.' } } },
      'REFRESH_REFUSED',
    ],
  ])('removes the file and exits 3 on %s', async (_label, reply, code) => {
    server.addConnection({ integration: 'google-calendar', endUserId: 'main' });
    expect((await project.run(['sync'])).exitCode).toBe(0);
    server.reply({ route: 'getConnection' }, reply);
    const run = await project.run(['sync', '--force', '--json']);
    expect(run.exitCode).toBe(3);
    expect(jsonOf<SyncCommandJson>(run).results[0]).toMatchObject({
      state: 'needs-auth',
      usable: false,
      code,
      expiresAt: null,
    });
    await expect(stat(project.tokenPath('main', 'google-calendar'))).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });

  it.each([
    [
      'HTTP 500',
      () => server.reply({ route: 'getConnection' }, nangoReplies.serverError(500)),
      'SOURCE_ERROR',
      undefined,
    ],
    [
      'HTTP 503',
      () => server.reply({ route: 'getConnection' }, nangoReplies.serverError(503)),
      'SOURCE_ERROR',
      undefined,
    ],
    [
      'a slow answer past the timeout',
      () => server.reply({ route: 'getConnection' }, nangoReplies.slow(3000)),
      'SOURCE_TIMEOUT',
      0.4,
    ],
  ])('keeps the file byte for byte when Nango fails with %s', async (_label, breakIt, code, timeout) => {
    server.addConnection({ integration: 'google-calendar', endUserId: 'main' });
    expect((await project.run(['sync'])).exitCode).toBe(0);
    // A short budget only for the failing sync, and only where the case is about the budget: an
    // answer that comes at once must not turn into a timeout on a loaded machine.
    if (timeout !== undefined) await project.writeConfig({ ...SMALLEST_CONFIG, nango: { timeout } });
    const file = project.tokenPath('main', 'google-calendar');
    const before = { content: await readFile(file), stat: await stat(file) };
    breakIt();
    const run = await project.run(['sync', '--force', '--json']);
    expect(run.exitCode).toBe(0);
    expect(jsonOf<SyncCommandJson>(run).results[0]).toMatchObject({
      state: 'unavailable',
      usable: true,
      code,
    });
    expect(await readFile(file)).toEqual(before.content);
    const after = await stat(file);
    expect([after.ino, after.mtimeMs]).toEqual([before.stat.ino, before.stat.mtimeMs]);
  });

  it('keeps the file when Nango cannot be reached at all, and exits 1 when there is none', async () => {
    server.addConnection({ integration: 'google-calendar', endUserId: 'main' });
    expect((await project.run(['sync'])).exitCode).toBe(0);
    const file = project.tokenPath('main', 'google-calendar');
    const before = await readFile(file);
    // Port 1 on loopback: nothing listens there, and no other test can take it in the meantime.
    const deadHost = 'http://127.0.0.1:1';
    const env = { ...project.env, NANGO_HOST: deadHost };

    const run = await project.run(['sync', '--force', '--json'], env);
    expect(run.exitCode).toBe(0);
    expect(jsonOf<SyncCommandJson>(run).results[0]).toMatchObject({
      state: 'unavailable',
      usable: true,
      code: 'SOURCE_UNREACHABLE',
      message: 'cannot reach Nango (ECONNREFUSED)',
    });
    expect(await readFile(file)).toEqual(before);

    const other = await project.run(['sync', '--owner', 'alice', '--json'], env);
    expect(other.exitCode).toBe(1);
    expect(jsonOf<SyncCommandJson>(other).results[0]).toMatchObject({ state: 'unavailable', usable: false });
  });

  it('keeps serving a still-valid file during the refresh cooldown (424)', async () => {
    await project.writeConfig({ ...SMALLEST_CONFIG, refresh: { maxAge: 0 } });
    server.addConnection({ integration: 'google-calendar', endUserId: 'main' });
    expect((await project.run(['sync'])).exitCode).toBe(0);
    const before = await readFile(project.tokenPath('main', 'google-calendar'));
    server.reply({ route: 'getConnection' }, nangoReplies.refreshCooldown());
    const run = await project.run(['sync', '--json']);
    expect(run.exitCode).toBe(0);
    expect(jsonOf<SyncCommandJson>(run).results[0]).toMatchObject({
      state: 'unavailable',
      usable: true,
      code: 'SOURCE_COOLDOWN',
      retryAfterMs: 30_000,
    });
    expect(await readFile(project.tokenPath('main', 'google-calendar'))).toEqual(before);
  });

  it('waits for Retry-After on 429 and then succeeds', async () => {
    server.addConnection({ integration: 'google-calendar', endUserId: 'main' });
    server.reply({ route: 'getConnection' }, nangoReplies.rateLimited('1'), 1);
    const run = await project.run(['sync', '--json']);
    expect(run.exitCode).toBe(0);
    expect(jsonOf<SyncCommandJson>(run).results[0]).toMatchObject({ state: 'refreshed' });
    const [limited, retried] = server.requestsTo('getConnection');
    expect(retried!.receivedAt - limited!.receivedAt).toBeGreaterThanOrEqual(950);
  });

  it('waits a moment on 429 with Retry-After: 0 rather than asking again at once', async () => {
    server.addConnection({ integration: 'google-calendar', endUserId: 'main' });
    server.reply({ route: 'getConnection' }, nangoReplies.rateLimited('0'), 1);
    const run = await project.run(['sync', '--json']);
    expect(run.exitCode).toBe(0);
    const [limited, retried] = server.requestsTo('getConnection');
    expect(retried!.receivedAt - limited!.receivedAt).toBeGreaterThanOrEqual(950);
  });

  it('also honours Retry-After given as an HTTP date', async () => {
    server.addConnection({ integration: 'google-calendar', endUserId: 'main' });
    server.reply(
      { route: 'listConnections' },
      nangoReplies.rateLimited(new Date(Date.now() + 2000).toUTCString()),
      1,
    );
    const run = await project.run(['sync', '--json']);
    expect(jsonOf<SyncCommandJson>(run).results[0]).toMatchObject({ state: 'refreshed' });
    const [limited, retried] = server.requestsTo('listConnections');
    // HTTP dates have whole seconds: the wait is at least one second.
    expect(retried!.receivedAt - limited!.receivedAt).toBeGreaterThanOrEqual(950);
  });

  it('refuses a malformed answer: an error, never a token file, an existing file untouched', async () => {
    server.addConnection({ integration: 'google-calendar', endUserId: 'main' });
    server.reply({ route: 'getConnection' }, nangoReplies.malformedJson());
    const run = await project.run(['sync', '--json']);
    expect(run.exitCode).toBe(1);
    expect(jsonOf<SyncCommandJson>(run).results[0]).toMatchObject({
      state: 'error',
      usable: false,
      code: 'INVALID_SOURCE_RESPONSE',
      message:
        'Nango returned a malformed connection for integration "google-calendar": expected a JSON object',
    });
    await expect(stat(project.tokenPath('main', 'google-calendar'))).rejects.toMatchObject({
      code: 'ENOENT',
    });

    server.clearReplies();
    expect((await project.run(['sync'])).exitCode).toBe(0);
    const before = await readFile(project.tokenPath('main', 'google-calendar'));
    server.reply(
      { route: 'getConnection' },
      nangoReplies.json({ credentials: { type: 'OAUTH2', access_token: 42 } }),
    );
    expect((await project.run(['sync', '--force'])).exitCode).toBe(1);
    expect(await readFile(project.tokenPath('main', 'google-calendar'))).toEqual(before);
  });

  it('exits 2 when Nango has no such integration', async () => {
    await project.writeConfig({ providers: [{ name: 'calendar', integration: 'no-such-integration' }] });
    const run = await project.run(['sync', '--json']);
    expect(run.exitCode).toBe(2);
    expect(jsonOf<SyncCommandJson>(run).results[0]).toMatchObject({
      state: 'error',
      code: 'TOKEN_SOURCE_CONFIG',
      message: expect.stringContaining('Nango has no integration "no-such-integration"'),
    });
  });

  it.each([
    [['sync', '--owner', '../x'], /invalid owner id "\.\.\/x"/],
    [['sync', 'a/b'], /invalid provider name "a\/b"/],
    [['sync', 'gitlab'], /provider "gitlab" is not configured/],
    [['sync', '--no-such-flag'], /unknown option/],
    [['status', '--owner', ''], /invalid owner id/],
  ])('exits 2 on bad usage: %j', async (args, message) => {
    const run = await project.run(args);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(server.requests).toEqual([]);
  });

  it('documents the exit codes in --help', async () => {
    const run = await project.run(['sync', '--help']);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(
      /Exit codes:\n\s+0\s.*\n\s+1\s.*\n\s+2\s.*usage or configuration.*\n\s+3\s.*authorization/,
    );
  });
});
