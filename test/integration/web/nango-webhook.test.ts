import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeNangoServer } from '../../support/fake-nango-server.js';
import { signNangoWebhook, SIGNING_KEY, TestDaemon } from './daemon-harness.js';

let nango: FakeNangoServer;
let daemon: TestDaemon;

beforeEach(async () => {
  nango = await FakeNangoServer.start();
  daemon = await TestDaemon.start({ nango });
});

afterEach(async () => {
  const transcript = daemon.transcript;
  await daemon.close();
  await nango.close();
  for (const secret of [...nango.secrets, SIGNING_KEY]) expect(transcript).not.toContain(secret);
});

function tokenFile(owner: string, provider = 'google-calendar'): string {
  return path.join(daemon.dir, 'data', 'tokens', owner, `${provider}.json`);
}

async function readToken(owner: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await readFile(tokenFile(owner), 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

function creationWebhook(connectionId: string, endUserId: string, pretty = false): string {
  const body = {
    from: 'nango',
    type: 'auth',
    operation: 'creation',
    success: true,
    connectionId,
    providerConfigKey: 'google-calendar',
    provider: 'google-calendar',
    authMode: 'OAUTH2',
    environment: 'dev',
    endUser: { endUserId, endUserEmail: null, tags: {} },
  };
  return pretty ? JSON.stringify(body, null, 2) : JSON.stringify(body);
}

async function registry(): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path.join(daemon.dir, 'data', 'nango-connections.json'), 'utf8'));
  } catch {
    return null;
  }
}

describe('POST /api/webhooks/nango', () => {
  it('records a new connection for its end user and syncs the token at once', async () => {
    const connection = nango.addConnection({ integration: 'google-calendar', endUserId: 'alice' });
    // Pretty-printed on purpose: the signature covers the raw bytes, not a re-serialization.
    const response = await daemon.webhook(creationWebhook(connection.connectionId, 'alice', true));
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ handled: true, results: [{ owner: 'alice', state: 'refreshed' }] });
    expect(response.text).not.toContain(connection.accessToken);

    const file = await readToken('alice');
    expect(file?.provider).toBe('google-calendar');
    expect(typeof file?.access_token).toBe('string');
    expect(await registry()).toEqual({ alice: { 'google-calendar': connection.connectionId } });
    expect(daemon.events.filter((event) => event.type === 'token_synced')).toHaveLength(1);
  });

  it.each([
    ['signed with another key', (body: string) => ({ body, options: { key: 'another-signing-key-0000' } })],
    [
      'a body changed by one byte after signing',
      (body: string) => ({
        body: body.replace('"alice"', '"alicf"'),
        options: { signature: signNangoWebhook(body, SIGNING_KEY) },
      }),
    ],
    ['no signature header', (body: string) => ({ body, options: { key: null } })],
    ['an empty signature', (body: string) => ({ body, options: { signature: '' } })],
    ['a signature of the wrong length', (body: string) => ({ body, options: { signature: 'abc123' } })],
  ])('refuses a webhook with %s and changes nothing', async (_name, make) => {
    const connection = nango.addConnection({ integration: 'google-calendar', endUserId: 'alice' });
    const { body, options } = make(creationWebhook(connection.connectionId, 'alice'));
    nango.resetStats();

    const response = await daemon.webhook(body, options);
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe('INVALID_SIGNATURE');
    expect(await readToken('alice')).toBeNull();
    expect(await readToken('alicf')).toBeNull();
    expect(await registry()).toBeNull();
    expect(nango.requests).toHaveLength(0);
    expect(daemon.events).toEqual([]);
  });

  it('removes the token and announces needs-auth when Nango could not refresh it', async () => {
    const connection = nango.addConnection({ integration: 'google-calendar', endUserId: 'alice' });
    await daemon.webhook(creationWebhook(connection.connectionId, 'alice'));
    expect(await readToken('alice')).not.toBeNull();

    const failure = JSON.stringify({
      from: 'nango',
      type: 'auth',
      operation: 'refresh',
      success: false,
      connectionId: connection.connectionId,
      providerConfigKey: 'google-calendar',
      provider: 'google-calendar',
      authMode: 'OAUTH2',
      environment: 'dev',
      error: { type: 'refresh_token_external_error', description: 'invalid_grant' },
    });
    const response = await daemon.webhook(failure);
    expect(response.status).toBe(200);
    // No end user in the body: the owner comes from the recorded connection.
    expect(response.body).toEqual({
      handled: true,
      results: [],
      needsAuth: [{ owner: 'alice', provider: 'google-calendar' }],
    });
    expect(await readToken('alice')).toBeNull();
    expect(daemon.events.at(-1)).toMatchObject({
      type: 'token_needs_auth',
      owner: 'alice',
      provider: 'google-calendar',
    });
  });

  it("removes the token of an owner whose connection was only found by listing, as Nango's refresh failure names it in tags", async () => {
    const connection = nango.addConnection({ integration: 'google-calendar', endUserId: 'erin' });
    // Synced without any connect: the connection comes from Nango's list, and is never recorded.
    expect(await daemon.runtime.tokenSync.sync('erin', 'google-calendar')).toMatchObject({
      state: 'refreshed',
    });
    expect(await registry()).toBeNull();

    const failure = nango.authWebhook(connection, { operation: 'refresh', success: false });
    expect(JSON.parse(failure.rawBody)).not.toHaveProperty('endUser');
    const status = (await daemon.webhook(failure.rawBody)).status;
    expect(status).toBe(200);
    expect(await readToken('erin')).toBeNull();
    expect(daemon.events.filter((event) => event.type === 'token_needs_auth')).toEqual([
      expect.objectContaining({ owner: 'erin', provider: 'google-calendar' }),
    ]);
  });

  it('removes the tokens of the end user in tags and of the owners the config ties to that connection', async () => {
    await daemon.close();
    const connection = nango.addConnection({ integration: 'google-calendar', endUserId: 'erin' });
    daemon = await TestDaemon.start({
      nango,
      config: {
        providers: [
          {
            name: 'google-calendar',
            scopes: ['calendar.readonly'],
            connections: { main: connection.connectionId },
          },
        ],
      },
    });
    for (const owner of ['erin', 'main'])
      expect(await daemon.runtime.tokenSync.sync(owner, 'google-calendar')).toMatchObject({ usable: true });

    const failure = nango.authWebhook(connection, { operation: 'refresh', success: false });
    expect(JSON.parse(failure.rawBody)).toMatchObject({ tags: { end_user_id: 'erin' } });
    const response = await daemon.webhook(failure.rawBody);
    expect(response.status).toBe(200);
    expect(response.body.needsAuth).toEqual([
      { owner: 'erin', provider: 'google-calendar' },
      { owner: 'main', provider: 'google-calendar' },
    ]);
    expect(await readToken('erin')).toBeNull();
    expect(await readToken('main')).toBeNull();
  });

  it('refuses a replayed delivery with WEBHOOK_REPLAYED and changes nothing', async () => {
    const connection = nango.addConnection({ integration: 'google-calendar', endUserId: 'alice' });
    const creation = nango.authWebhook(connection);
    expect((await daemon.webhook(creation.rawBody)).status).toBe(200);
    const failure = nango.authWebhook(connection, { operation: 'refresh', success: false });
    expect((await daemon.webhook(failure.rawBody)).status).toBe(200);
    expect(await readToken('alice')).toBeNull();

    // The owner is back (a sync wrote the file again); a replay of the old failure must not remove it.
    expect(await daemon.runtime.tokenSync.sync('alice', 'google-calendar')).toMatchObject({ usable: true });
    const replay = await daemon.webhook(failure.rawBody);
    expect(replay.status).toBe(409);
    expect(replay.body.error.code).toBe('WEBHOOK_REPLAYED');
    expect(await readToken('alice')).not.toBeNull();
    expect(daemon.events.filter((event) => event.type === 'token_needs_auth')).toHaveLength(1);
  });

  it('takes the retry of a delivery whose token removal failed, so the revoked token goes', async () => {
    const connection = nango.addConnection({ integration: 'google-calendar', endUserId: 'alice' });
    expect((await daemon.webhook(nango.authWebhook(connection).rawBody)).status).toBe(200);
    const saved = await readFile(tokenFile('alice'), 'utf8');
    // A folder where the token file was: unlinking it fails (EISDIR), as on a disk that refuses writes.
    await rm(tokenFile('alice'));
    await mkdir(path.join(tokenFile('alice'), 'blocker'), { recursive: true });

    const failure = nango.authWebhook(connection, { operation: 'refresh', success: false });
    const first = await daemon.webhook(failure.rawBody);
    expect(first.status).toBeGreaterThanOrEqual(500);
    expect(first.body.error.code).toBe('TOKEN_WRITE_FAILED');
    expect(daemon.events.filter((event) => event.type === 'token_needs_auth')).toEqual([]);

    // The disk is writable again, the revoked token still on it; Nango's retry is the same delivery.
    await rm(tokenFile('alice'), { recursive: true });
    await writeFile(tokenFile('alice'), saved);
    const retry = await daemon.webhook(failure.rawBody);
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual({
      handled: true,
      results: [],
      needsAuth: [{ owner: 'alice', provider: 'google-calendar' }],
    });
    expect(await readToken('alice')).toBeNull();
    expect(daemon.events.filter((event) => event.type === 'token_needs_auth')).toHaveLength(1);
  });

  it('acknowledges other webhooks and unknown integrations without acting', async () => {
    const sync = await daemon.webhook(
      JSON.stringify({ type: 'sync', connectionId: 'x', providerConfigKey: 'y' }),
    );
    expect(sync.status).toBe(200);
    expect(sync.body.handled).toBe(false);

    const refreshOk = await daemon.webhook(
      JSON.stringify({
        type: 'auth',
        operation: 'refresh',
        success: true,
        connectionId: 'c',
        providerConfigKey: 'google-calendar',
      }),
    );
    expect(refreshOk.body.handled).toBe(false);

    const other = await daemon.webhook(
      JSON.stringify({
        type: 'auth',
        operation: 'creation',
        success: true,
        connectionId: 'c',
        providerConfigKey: 'github',
      }),
    );
    expect(other.body).toEqual({
      handled: false,
      reason: 'no configured provider uses integration "github"',
    });
    expect(nango.requests).toHaveLength(0);
  });

  it('refuses a signed auth webhook whose end user is not an owner id', async () => {
    const response = await daemon.webhook(creationWebhook('c-1', '../../etc'));
    expect(response.status).toBe(400);
    expect(response.body.error).toEqual({
      code: 'INVALID_REQUEST',
      message: 'body.endUser.endUserId: expected an owner id',
    });
  });
});
