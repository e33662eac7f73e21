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
    // Synced with force: Nango refreshed it, so it is the connection's current token.
    expect(file.access_token).toBe(
      nango.getConnection('google-calendar', connection.connectionId)!.accessToken,
    );
    expect((await stat(tokenFile('alice'))).mode & 0o777).toBe(0o640);
    const registry = JSON.parse(
      await readFile(path.join(daemon.dir, 'data', 'nango-connections.json'), 'utf8'),
    );
    expect(registry).toEqual({ alice: { 'google-calendar': connection.connectionId } });
    expect(nango.requestsTo('getConnection').at(-1)?.query.force_refresh).toBe('true');
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
