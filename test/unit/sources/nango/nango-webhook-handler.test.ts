import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NangoProviderConfig } from '../../../../src/config/types.js';
import { ConnectionRegistry } from '../../../../src/sources/nango/connection-registry.js';
import {
  handleNangoWebhook,
  type NangoWebhookDependencies,
} from '../../../../src/sources/nango/nango-webhook-handler.js';
import { WebhookReplayGuard } from '../../../../src/sources/nango/webhook-replay-guard.js';
import type { WebhookDelivery } from '../../../../src/sources/webhook.js';

const CALENDAR: NangoProviderConfig = {
  name: 'google-calendar',
  source: 'nango',
  integration: 'google-calendar',
  scopes: [],
  exposeRefreshToken: false,
  connections: { carol: 'conn-1' },
};

let dir: string;
let registry: ConnectionRegistry;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-nango-webhook-'));
  registry = ConnectionRegistry.inDataDir(dir);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every owner uses `conn-1` now, as the config, the registry or Nango's list would say. */
function dependencies(overrides: Partial<NangoWebhookDependencies> = {}): NangoWebhookDependencies {
  return {
    providers: [CALENDAR],
    registry,
    replays: new WebhookReplayGuard(),
    verify: () => true,
    resolveConnectionId: async () => 'conn-1',
    recordConnection: async () => {},
    ...overrides,
  };
}

function refreshFailure(tags: Record<string, string> | null): WebhookDelivery {
  const body = {
    from: 'nango',
    type: 'auth',
    operation: 'refresh',
    success: false,
    connectionId: 'conn-1',
    providerConfigKey: 'google-calendar',
    provider: 'google-calendar',
    authMode: 'OAUTH2',
    environment: 'dev',
    error: { type: 'refresh_token_external_error', description: 'invalid_grant' },
    ...(tags ? { tags } : {}),
  };
  return {
    rawBody: Buffer.from(JSON.stringify(body)),
    headers: { 'x-nango-hmac-sha256': 'signature' },
    signal: new AbortController().signal,
  };
}

describe('handleNangoWebhook: a refresh failure', () => {
  it('names the end user in tags and every owner the config or the registry ties to the connection', async () => {
    await registry.set('bob', 'google-calendar', 'conn-1');
    await registry.set('dave', 'google-calendar', 'conn-2');

    const result = await handleNangoWebhook(refreshFailure({ end_user_id: 'erin' }), dependencies());
    expect(result).toMatchObject({ handled: true, sync: [] });
    const owners = result.handled ? result.needsAuth.map((target) => target.owner).sort() : [];
    expect(owners).toEqual(['bob', 'carol', 'erin']);
  });

  it('names an owner once when the end user is also mapped to the connection', async () => {
    await registry.set('erin', 'google-calendar', 'conn-1');

    const result = await handleNangoWebhook(refreshFailure({ end_user_id: 'erin' }), dependencies());
    const owners = result.handled ? result.needsAuth.map((target) => target.owner).sort() : [];
    expect(owners).toEqual(['carol', 'erin']);
  });

  it('leaves out a mapped owner who uses another connection now', async () => {
    await registry.set('bob', 'google-calendar', 'conn-1');
    const resolveConnectionId = async (owner: string) => (owner === 'bob' ? 'conn-9' : 'conn-1');

    const result = await handleNangoWebhook(
      refreshFailure({ end_user_id: 'erin' }),
      dependencies({ resolveConnectionId }),
    );
    const owners = result.handled ? result.needsAuth.map((target) => target.owner).sort() : [];
    expect(owners).toEqual(['carol', 'erin']);
  });
});

describe('handleNangoWebhook: replays', () => {
  it('refuses the same delivery while it is remembered', async () => {
    const deps = dependencies();
    await handleNangoWebhook(refreshFailure(null), deps);
    await expect(handleNangoWebhook(refreshFailure(null), deps)).rejects.toMatchObject({
      code: 'WEBHOOK_REPLAYED',
    });
  });

  it('takes the same delivery again once the caller forgets it (its follow-up work failed)', async () => {
    const deps = dependencies();
    const first = await handleNangoWebhook(refreshFailure(null), deps);
    expect(first.handled).toBe(true);
    if (!first.handled) return;
    first.forget?.();

    const retry = await handleNangoWebhook(refreshFailure(null), deps);
    expect(retry).toMatchObject({ handled: true, needsAuth: [{ owner: 'carol' }] });
  });
});
