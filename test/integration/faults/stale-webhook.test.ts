import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { FakeNangoServer, type FakeConnection } from '../../support/fake-nango-server.js';
import { TestDaemon } from '../web/daemon-harness.js';

/**
 * A refresh failure Nango reports about a connection the owner no longer uses (Nango's cron
 * refreshes every connection it holds, old ones too) must not delete the token the owner's
 * current connection gives.
 */

let nango: FakeNangoServer;
let daemon: TestDaemon;

beforeEach(async () => {
  nango = await FakeNangoServer.start();
  daemon = await TestDaemon.start({ nango });
});
afterEach(async () => {
  await daemon.close();
  await nango.close();
});

function auth(connection: FakeConnection, operation: 'creation' | 'override' | 'refresh', success: boolean) {
  return JSON.stringify({
    from: 'nango',
    type: 'auth',
    operation,
    success,
    connectionId: connection.connectionId,
    providerConfigKey: 'google-calendar',
    provider: 'google-calendar',
    authMode: 'OAUTH2',
    environment: 'dev',
    endUser: { endUserId: 'alice', endUserEmail: null, tags: {} },
    ...(success ? {} : { error: { type: 'refresh_token_external_error', description: 'invalid_grant' } }),
  });
}

async function aliceToken(): Promise<string | null> {
  try {
    const file = path.join(daemon.dir, 'data', 'tokens', 'alice', 'google-calendar.json');
    return (JSON.parse(await readFile(file, 'utf8')) as { access_token: string }).access_token;
  } catch {
    return null;
  }
}

it('a refresh failure of a connection the owner replaced keeps the token; one of the current connection removes it', async () => {
  const old = nango.addConnection({ integration: 'google-calendar', endUserId: 'alice' });
  expect((await daemon.webhook(auth(old, 'creation', true))).status).toBe(200);
  // Alice connects again: a new connection, which is now hers.
  const current = nango.addConnection({ integration: 'google-calendar', endUserId: 'alice' });
  expect((await daemon.webhook(auth(current, 'creation', true))).status).toBe(200);
  expect(await aliceToken()).toBe(current.accessToken);

  const stale = await daemon.webhook(auth(old, 'refresh', false));
  expect(stale.status).toBe(200);
  expect(stale.body.handled).toBe(false);
  expect(await aliceToken()).toBe(current.accessToken);
  expect(daemon.events.filter((event) => event.type === 'token_needs_auth')).toEqual([]);

  const real = await daemon.webhook(auth(current, 'refresh', false));
  expect(real.body).toEqual({
    handled: true,
    results: [],
    needsAuth: [{ owner: 'alice', provider: 'google-calendar' }],
  });
  expect(await aliceToken()).toBeNull();
  expect(daemon.events.filter((event) => event.type === 'token_needs_auth')).toHaveLength(1);
});
