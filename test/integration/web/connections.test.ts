import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeNangoServer, nangoReplies } from '../../support/fake-nango-server.js';
import { TestDaemon } from './daemon-harness.js';

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
  for (const secret of nango.secrets) expect(transcript).not.toContain(secret);
});

const tokenFile = (owner: string) => path.join(daemon.dir, 'data', 'tokens', owner, 'google-calendar.json');

describe('POST /api/connect-sessions', () => {
  it('creates a Nango connect session for the owner, limited to the provider’s integration', async () => {
    const response = await daemon.api('POST', '/api/connect-sessions', {
      body: { owner: 'alice', provider: 'google-calendar' },
    });
    expect(response.status).toBe(200);
    const session = nango.connectSessions[0]!;
    expect(session.endUserId).toBe('alice');
    expect(session.allowedIntegrations).toEqual(['google-calendar']);
    expect(response.body).toEqual({
      flow: 'nango',
      token: session.token,
      connect_link: expect.stringContaining(session.token),
      expires_at: session.expiresAt.toISOString(),
    });
  });

  it('answers 502 with a stable code when Nango refuses', async () => {
    nango.reply({ route: 'createConnectSession' }, nangoReplies.serverError(503));
    const response = await daemon.api('POST', '/api/connect-sessions', {
      body: { owner: 'alice', provider: 'google-calendar' },
    });
    expect(response.status).toBe(502);
    expect(response.body.error.code).toBe('TOKEN_SOURCE_UNAVAILABLE');
  });
});

describe('POST /api/auth/complete', () => {
  it('checks the connection at Nango, records it, and has the token file on disk when it answers', async () => {
    const start = await daemon.api('POST', '/api/connect-sessions', {
      body: { owner: 'alice', provider: 'google-calendar' },
    });
    const connection = nango.completeConnectSession(start.body.token, 'google-calendar');

    const response = await daemon.api('POST', '/api/auth/complete', {
      body: { owner: 'alice', provider: 'google-calendar', connectionId: connection.connectionId },
    });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      owner: 'alice',
      provider: 'google-calendar',
      state: 'refreshed',
      usable: true,
    });
    expect(response.text).not.toContain(connection.accessToken);

    const file = JSON.parse(await readFile(tokenFile('alice'), 'utf8'));
    // Checked again, not refreshed: the token Nango just got is the one on disk.
    expect(file.access_token).toBe(
      nango.getConnection('google-calendar', connection.connectionId)!.accessToken,
    );
    expect((await stat(tokenFile('alice'))).mode & 0o777).toBe(0o640);
    const registry = JSON.parse(
      await readFile(path.join(daemon.dir, 'data', 'nango-connections.json'), 'utf8'),
    );
    expect(registry).toEqual({ alice: { 'google-calendar': connection.connectionId } });
    expect(nango.requestsTo('getConnection').at(-1)?.query.force_refresh).not.toBe('true');
    expect(daemon.events.some((event) => event.type === 'token_synced' && event.owner === 'alice')).toBe(
      true,
    );
  });

  it('finds the newest connection of the owner when the page names none', async () => {
    const connection = nango.addConnection({ integration: 'google-calendar', endUserId: 'bob' });
    const response = await daemon.api('POST', '/api/auth/complete', {
      body: { owner: 'bob', provider: 'google-calendar' },
    });
    expect(response.status).toBe(200);
    expect(response.body.state).toBe('refreshed');
    expect(nango.requestsTo('getConnection').at(-1)?.connectionId).toBe(connection.connectionId);
  });

  it("refuses another owner's connection, and one that does not exist", async () => {
    const bobs = nango.addConnection({ integration: 'google-calendar', endUserId: 'bob' });
    const stolen = await daemon.api('POST', '/api/auth/complete', {
      body: { owner: 'alice', provider: 'google-calendar', connectionId: bobs.connectionId },
    });
    expect(stolen.status).toBe(404);
    expect(stolen.body.error.code).toBe('CONNECTION_NOT_FOUND');
    const none = await daemon.api('POST', '/api/auth/complete', {
      body: { owner: 'carol', provider: 'google-calendar' },
    });
    expect(none.status).toBe(404);
    await expect(stat(tokenFile('alice'))).rejects.toThrow();
    expect(nango.requestsTo('getConnection')).toHaveLength(0);
  });
});

describe('DELETE /api/connections/:owner/:provider', () => {
  it('deletes the connection at Nango, removes the file and announces it', async () => {
    const connection = nango.addConnection({ integration: 'google-calendar', endUserId: 'alice' });
    await daemon.api('POST', '/api/auth/complete', { body: { owner: 'alice', provider: 'google-calendar' } });
    await stat(tokenFile('alice'));

    const response = await daemon.api('DELETE', '/api/connections/alice/google-calendar');
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ owner: 'alice', provider: 'google-calendar', disconnected: true });
    expect(nango.getConnection('google-calendar', connection.connectionId)).toBeUndefined();
    await expect(stat(tokenFile('alice'))).rejects.toThrow();
    expect(daemon.events.at(-1)).toMatchObject({
      type: 'token_needs_auth',
      owner: 'alice',
      reason: 'disconnected',
    });
  });
});

describe('DELETE of a connection Nango no longer has', () => {
  it('still forgets it, removes the file and answers 200 (Nango says 400 unknown_connection)', async () => {
    const connection = nango.addConnection({ integration: 'google-calendar', endUserId: 'alice' });
    await daemon.api('POST', '/api/auth/complete', { body: { owner: 'alice', provider: 'google-calendar' } });
    await stat(tokenFile('alice'));
    nango.removeConnection('google-calendar', connection.connectionId);

    const response = await daemon.api('DELETE', '/api/connections/alice/google-calendar');
    expect(response.status).toBe(200);
    expect(nango.requestsTo('deleteConnection').at(-1)).toBeDefined();
    await expect(stat(tokenFile('alice'))).rejects.toThrow();
    const registry = JSON.parse(
      await readFile(path.join(daemon.dir, 'data', 'nango-connections.json'), 'utf8'),
    );
    expect(registry).toEqual({ alice: {} });
  });
});

describe('a connect session for an integration Nango does not have', () => {
  it('is a configuration error that names the integration', async () => {
    nango.missingIntegrations.add('google-calendar');
    const response = await daemon.api('POST', '/api/connect-sessions', {
      body: { owner: 'alice', provider: 'google-calendar' },
    });
    expect(response.body.error).toEqual({
      code: 'TOKEN_SOURCE_CONFIG',
      message:
        'Nango has no integration "google-calendar": create it in Nango or fix the provider\'s integration id',
    });
  });
});

describe('a connect from the page', () => {
  it('costs the provider exactly one token request, though the webhook and the page both confirm it', async () => {
    const start = await daemon.api('POST', '/api/connect-sessions', {
      body: { owner: 'alice', provider: 'google-calendar' },
    });
    nango.providerTokenRequests = 0;
    // The OAuth round trip in the Connect UI: the provider issues the first token (one request).
    const connection = nango.completeConnectSession(start.body.token, 'google-calendar');
    expect(nango.providerTokenRequests).toBe(1);

    const [webhook, completed] = await Promise.all([
      daemon.webhook(
        JSON.stringify({
          authMode: 'OAUTH2',
          connectionId: connection.connectionId,
          endUser: { endUserEmail: null, endUserId: 'alice', tags: { end_user_id: 'alice' } },
          environment: 'dev',
          from: 'nango',
          operation: 'creation',
          provider: 'google-calendar',
          providerConfigKey: 'google-calendar',
          success: true,
          tags: { end_user_id: 'alice' },
          type: 'auth',
        }),
      ),
      daemon.api('POST', '/api/auth/complete', {
        body: { owner: 'alice', provider: 'google-calendar', connectionId: connection.connectionId },
      }),
    ]);
    expect(webhook.status).toBe(200);
    expect(completed.status).toBe(200);
    const file = JSON.parse(await readFile(tokenFile('alice'), 'utf8'));
    expect(file.access_token).toBe(connection.accessToken);
    expect(nango.providerTokenRequests).toBe(1);
  });
});
