import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNanoclaw, type Nanoclaw } from '../../../src/index.js';
import { demoProviderEntries } from '../../../src/demo/demo-providers.js';
import type { NanoclawEvent } from '../../../src/events/types.js';
import { silentLogger } from '../../../src/log/logger.js';
import { BuiltinDaemon } from '../../support/builtin-daemon.js';

// One daemon (`serve`, with the built-in source against a real oidc-provider) and one library
// instance of a host on the same data folder, as a host that runs its own containers would have.
let daemon: BuiltinDaemon;
let nc: Nanoclaw;
const libraryEvents: NanoclawEvent[] = [];

beforeAll(async () => {
  daemon = await BuiltinDaemon.start();
  nc = await createNanoclaw({
    config: { providers: demoProviderEntries(daemon.oauth) },
    env: {
      NANOCLAW_DATA_DIR: daemon.runtime.config.dataDir,
      NANOCLAW_PUBLIC_URL: daemon.url,
    },
    cwd: daemon.dir,
    logger: silentLogger(),
  });
  nc.events.subscribe((event) => libraryEvents.push(event));
});

afterAll(async () => {
  await nc?.close();
  const transcript = `${daemon?.transcript}\n${JSON.stringify(libraryEvents)}`;
  await daemon?.close();
  expect(transcript).not.toContain(daemon.oauth.webClient.clientSecret);
});

async function api(method: string, pathname: string, body?: unknown) {
  const response = await fetch(`${daemon.url}${pathname}`, {
    method,
    headers: {
      authorization: `Bearer ${daemon.daemon.apiToken.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read JSON answers by shape
  return { status: response.status, body: (await response.json()) as any };
}

describe('the library at a host launch point', () => {
  it('prepares a launch with no token: the mount, the env, and a link where the owner authorizes', async () => {
    const launch = await nc.prepareLaunch({ owner: 'alice', providers: ['demo'] });
    expect(launch.owner).toBe('alice');
    expect(launch.mount).toEqual({
      hostPath: expect.any(String),
      containerPath: '/workspace/tokens',
      readOnly: true,
    });
    expect(launch.env).toEqual({ NANOCLAW_OWNER: 'alice', NANOCLAW_TOKENS_DIR: '/workspace/tokens' });
    expect(launch.tokens).toEqual([
      { provider: 'demo', state: 'needs-auth', usable: false, expiresAt: null },
    ]);
    expect(launch.needsAuth).toEqual([
      {
        provider: 'demo',
        scopes: expect.any(Array),
        connectUrl: `${daemon.url}/auth/oauth/demo/start?owner=alice`,
      },
    ]);
  });

  it('turns a chunked AUTH_REQUIRED line of a declared provider into one typed event', async () => {
    const seen: NanoclawEvent[] = [];
    const off = nc.events.on('auth_required', (event) => seen.push(event));
    const watch = nc.watchOutput({ owner: 'alice', providers: ['demo'], skill: 'agent' });
    for (const piece of [
      'working\nAUTH_REQ',
      'UIRED:demo:openid,',
      'offline_access\r',
      '\nAUTH_REQUIRED:other\n',
    ])
      watch.write(piece);
    watch.write('AUTH_REQUIRED:demo\n');
    watch.end();
    await watch.settled();
    off();
    expect(watch.prompts).toEqual([{ provider: 'demo', scopes: ['openid', 'offline_access'] }]);
    expect(seen).toEqual([
      expect.objectContaining({
        type: 'auth_required',
        owner: 'alice',
        provider: 'demo',
        scopes: ['openid', 'offline_access'],
        skill: 'agent',
        runId: null,
        connectUrl: `${daemon.url}/auth/oauth/demo/start?owner=alice`,
      }),
    ]);
  });

  it('refuses bad names and providers that are not configured, before any I/O', async () => {
    await expect(nc.prepareLaunch({ owner: '../bob', providers: ['demo'] })).rejects.toMatchObject({
      code: 'INVALID_NAME',
    });
    await expect(nc.prepareLaunch({ owner: 'bob', providers: ['gmail'] })).rejects.toMatchObject({
      code: 'UNKNOWN_PROVIDER',
    });
    expect(() => nc.watchOutput({ owner: 'bob', providers: ['Demo'] })).toThrow(/invalid provider name/);
    expect(() => nc.watchOutput({ owner: 'bob', providers: ['demo'], skill: 'A B' })).toThrow(
      /invalid skill name/,
    );
  });

  it("after the owner connects, the mount holds only that owner's usable token", async () => {
    expect((await daemon.connect('carol')).status).toBe(200);
    const launch = await nc.prepareLaunch({ owner: 'carol', providers: ['demo'] });
    expect(launch.tokens).toEqual([
      { provider: 'demo', state: 'fresh', usable: true, expiresAt: expect.any(String) },
    ]);
    expect(launch.needsAuth).toEqual([]);
    // The mount is carol's view: only the declared provider's file, never another owner's folder.
    expect(
      launch.mount.hostPath.startsWith(path.join(daemon.runtime.config.tokensDir, '.views', 'carol')),
    ).toBe(true);
    expect(await readdir(launch.mount.hostPath)).toEqual(['demo.json']);
    const file = JSON.parse(await readFile(path.join(launch.mount.hostPath, 'demo.json'), 'utf8'));
    expect(file.access_token).toEqual(expect.any(String));
    // Events carry who and what, never the token.
    expect(JSON.stringify(libraryEvents)).not.toContain(file.access_token);
  });
});

describe('the launch API over HTTP', () => {
  it('POST /api/launches answers as prepareLaunch does', async () => {
    const { status, body } = await api('POST', '/api/launches', { owner: 'dave', providers: ['demo'] });
    expect(status).toBe(200);
    expect(body).toEqual({
      owner: 'dave',
      providers: ['demo'],
      mount: {
        hostPath: expect.stringMatching(/\/\.views\/dave\/[0-9a-f]+$/),
        containerPath: '/workspace/tokens',
        readOnly: true,
      },
      env: { NANOCLAW_OWNER: 'dave', NANOCLAW_TOKENS_DIR: '/workspace/tokens' },
      tokens: [{ provider: 'demo', state: 'needs-auth', usable: false, expiresAt: null }],
      needsAuth: [
        {
          provider: 'demo',
          scopes: expect.any(Array),
          connectUrl: `${daemon.url}/auth/oauth/demo/start?owner=dave`,
        },
      ],
    });
  });

  it('POST /api/prompts raises the prompt the page shows, as a skill would', async () => {
    const before = daemon.events.length;
    const { status, body } = await api('POST', '/api/prompts', {
      owner: 'erin',
      provider: 'demo',
      scopes: ['openid'],
      skill: 'agent',
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({ type: 'auth_required', owner: 'erin', provider: 'demo', skill: 'agent' });
    expect(daemon.events.slice(before)).toContainEqual(
      expect.objectContaining({
        type: 'auth_required',
        owner: 'erin',
        provider: 'demo',
        scopes: ['openid'],
        connectUrl: `${daemon.url}/auth/oauth/demo/start?owner=erin`,
      }),
    );
    // A page opened later still offers it.
    const status_ = await api('GET', '/api/status');
    expect(status_.body.pendingAuth).toContainEqual(
      expect.objectContaining({ owner: 'erin', provider: 'demo', skill: 'agent' }),
    );
  });

  it.each([
    [{ owner: 'erin', provider: 'gmail' }, 'UNKNOWN_PROVIDER'],
    [{ owner: '../x', provider: 'demo' }, 'INVALID_REQUEST'],
    [{ owner: 'erin', provider: 'demo', scopes: ['a,b'] }, 'INVALID_REQUEST'],
    [{ owner: 'erin', provider: 'demo', extra: true }, 'INVALID_REQUEST'],
  ])('POST /api/prompts refuses %j with 400 %s', async (body, code) => {
    const before = daemon.events.length;
    const answer = await api('POST', '/api/prompts', body);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe(code);
    expect(daemon.events.slice(before).filter((event) => event.type === 'auth_required')).toEqual([]);
  });

  it.each([
    [{ owner: 'erin', providers: ['gmail'] }, 'UNKNOWN_PROVIDER'],
    [{ owner: 'erin', providers: 'demo' }, 'INVALID_REQUEST'],
    [{ providers: ['demo'] }, 'INVALID_REQUEST'],
  ])('POST /api/launches refuses %j with 400 %s', async (body, code) => {
    const answer = await api('POST', '/api/launches', body);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe(code);
  });

  it('GET /api/settings asks each source whether an owner can connect the provider', async () => {
    const { status, body } = await api('GET', '/api/settings');
    expect(status).toBe(200);
    const connectable = Object.fromEntries(
      body.providers.map((provider: { name: string; connectable: boolean }) => [
        provider.name,
        provider.connectable,
      ]),
    );
    // The client-credentials provider belongs to no owner: nothing to connect.
    expect(connectable).toEqual({ demo: true, 'demo-service': false });
  });

  it('both need the API token', async () => {
    for (const pathname of ['/api/launches', '/api/prompts']) {
      const response = await fetch(`${daemon.url}${pathname}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ owner: 'erin', provider: 'demo', providers: ['demo'] }),
      });
      expect(response.status).toBe(401);
    }
  });
});
