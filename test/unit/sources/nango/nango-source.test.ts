import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NangoProviderConfig } from '../../../../src/config/types.js';
import { InvalidSourceResponseError, TokenSourceConfigError } from '../../../../src/errors.js';
import { ConnectionRegistry } from '../../../../src/sources/nango/connection-registry.js';
import type { NangoApi } from '../../../../src/sources/nango/nango-api.js';
import { NangoSource } from '../../../../src/sources/nango/nango-source.js';

const signal = new AbortController().signal;

function provider(name: string, overrides: Partial<NangoProviderConfig> = {}): NangoProviderConfig {
  return {
    name,
    source: 'nango',
    integration: name,
    scopes: [],
    exposeRefreshToken: false,
    connections: {},
    ...overrides,
  };
}

/** An axios-shaped failure, as the SDK throws them. */
function httpError(
  status: number,
  code: string,
  headers: Record<string, string> = {},
  extra: Record<string, unknown> = {},
) {
  return Object.assign(new Error(`Request failed with status code ${status}`), {
    code: 'ERR_BAD_RESPONSE',
    response: { status, data: { error: { code, ...extra } }, headers },
  });
}

/** A connection answer naming its end user (or none). */
function connectionOf(connectionId: string, endUserId: string | null) {
  return {
    connection_id: connectionId,
    end_user: endUserId === null ? null : { id: endUserId, email: null, display_name: null },
    credentials: {
      type: 'OAUTH2',
      access_token: `token-for-${connectionId}`,
      expires_at: '2030-01-01T00:00:00Z',
    },
  };
}

type Call = { method: string; args: Record<string, unknown> };

/** A scripted NangoApi: answers come from queues per method, falling back to a healthy answer. */
class ScriptedNangoApi implements NangoApi {
  readonly calls: Call[] = [];
  connections: { connection_id: string; provider_config_key: string; created: string }[] = [];
  getAnswers: (() => unknown)[] = [];
  listAnswers: (() => unknown)[] = [];
  listDelayMs = 0;

  async getConnection(
    integration: string,
    connectionId: string,
    options: { forceRefresh: boolean; includeRefreshToken: boolean },
  ): Promise<unknown> {
    this.calls.push({
      method: 'getConnection',
      args: { integration, connectionId, ...options, signal: undefined },
    });
    const answer = this.getAnswers.shift();
    if (answer) return answer();
    return {
      connection_id: connectionId,
      credentials: {
        type: 'OAUTH2',
        access_token: `token-for-${connectionId}`,
        expires_at: '2030-01-01T00:00:00Z',
      },
    };
  }

  async listConnections(options: { endUserId: string }): Promise<unknown> {
    this.calls.push({ method: 'listConnections', args: { endUserId: options.endUserId } });
    if (this.listDelayMs) await new Promise((resolve) => setTimeout(resolve, this.listDelayMs));
    const answer = this.listAnswers.shift();
    if (answer) return answer();
    return { connections: this.connections };
  }

  async createConnectSession(options: {
    endUserId: string;
    allowedIntegrations: string[];
  }): Promise<unknown> {
    this.calls.push({ method: 'createConnectSession', args: { ...options, signal: undefined } });
    this.sessionAnswer?.();
    return {
      data: {
        token: 'session-token',
        connect_link: 'https://connect.example/?session_token=s',
        expires_at: 'x',
      },
    };
  }

  sessionAnswer: (() => void) | null = null;
  deleteAnswer: (() => void) | null = null;
  async deleteConnection(integration: string, connectionId: string): Promise<void> {
    this.calls.push({ method: 'deleteConnection', args: { integration, connectionId } });
    this.deleteAnswer?.();
  }

  verifyWebhook(): boolean {
    return false;
  }

  count(method: string): number {
    return this.calls.filter((call) => call.method === method).length;
  }
}

let dir: string;
let api: ScriptedNangoApi;
let registry: ConnectionRegistry;
let clock: number;
let slept: number[];

function createSource(options: { maxRetryWaitMs?: number; linkApiUrl?: string | null } = {}) {
  return new NangoSource({
    api,
    registry,
    now: () => clock,
    sleep: async (ms) => {
      slept.push(ms);
      clock += ms;
    },
    ...options,
  });
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-nango-'));
  api = new ScriptedNangoApi();
  registry = ConnectionRegistry.inDataDir(dir);
  clock = Date.parse('2030-01-01T00:00:00Z');
  slept = [];
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('NangoSource: which connection serves an owner', () => {
  it('uses a fixed connection id from the config first', async () => {
    api.connections = [{ connection_id: 'listed', provider_config_key: 'github', created: '2029-01-01' }];
    await registry.set('alice', 'github', 'recorded');
    const id = await createSource().resolveConnectionId(
      'alice',
      provider('github', { connections: { alice: 'fixed' } }),
      signal,
    );
    expect(id).toBe('fixed');
    expect(api.count('listConnections')).toBe(0);
  });

  it('then the connection recorded when the owner connected', async () => {
    await registry.set('alice', 'github', 'recorded');
    expect(await createSource().resolveConnectionId('alice', provider('github'), signal)).toBe('recorded');
    expect(api.count('listConnections')).toBe(0);
  });

  it("then the newest of Nango's connections for the owner as end user and the integration", async () => {
    api.connections = [
      { connection_id: 'old', provider_config_key: 'github', created: '2029-01-01T00:00:00Z' },
      { connection_id: 'new', provider_config_key: 'github', created: '2029-06-01T00:00:00Z' },
      { connection_id: 'other', provider_config_key: 'slack', created: '2029-07-01T00:00:00Z' },
    ];
    expect(await createSource().resolveConnectionId('alice', provider('github'), signal)).toBe('new');
    expect(api.calls[0]).toEqual({ method: 'listConnections', args: { endUserId: 'alice' } });
  });

  it('then the owner id itself, as single-user setups named their connection', async () => {
    expect(await createSource().resolveConnectionId('main', provider('github'), signal)).toBe('main');
  });

  it("lists an owner's connections once for many providers fetched at the same time", async () => {
    api.listDelayMs = 10;
    const source = createSource();
    const providers = Array.from({ length: 10 }, (_, index) => provider(`p${index}`));
    const outcomes = await Promise.all(
      providers.map((item) => source.fetchToken({ owner: 'alice', provider: item, mode: 'cached', signal })),
    );
    expect(outcomes.every((outcome) => outcome.status === 'token')).toBe(true);
    expect(api.count('listConnections')).toBe(1);
    expect(api.count('getConnection')).toBe(10);
  });

  it('lists again after the list expires or the owner is forgotten', async () => {
    const source = createSource();
    await source.resolveConnectionId('alice', provider('github'), signal);
    await source.resolveConnectionId('alice', provider('slack'), signal);
    expect(api.count('listConnections')).toBe(1);
    clock += 61_000;
    await source.resolveConnectionId('alice', provider('github'), signal);
    source.forgetOwner('alice');
    await source.resolveConnectionId('alice', provider('github'), signal);
    expect(api.count('listConnections')).toBe(3);
  });

  it('does not keep a failed list', async () => {
    const source = createSource();
    api.listAnswers.push(() => {
      throw httpError(503, 'server_error');
    });
    expect(
      await source.fetchToken({ owner: 'alice', provider: provider('github'), mode: 'cached', signal }),
    ).toMatchObject({
      status: 'unavailable',
      code: 'SOURCE_ERROR',
    });
    expect(
      await source.fetchToken({ owner: 'alice', provider: provider('github'), mode: 'cached', signal }),
    ).toMatchObject({
      status: 'token',
    });
    expect(api.count('listConnections')).toBe(2);
  });
});

describe("NangoSource: the owner id as connection id, only for the owner's own connection", () => {
  it('takes the connection named like the owner when it names this owner or no end user', async () => {
    const source = createSource();
    api.getAnswers = [() => connectionOf('carol', 'carol'), () => connectionOf('main', null)];
    expect(
      await source.fetchToken({ owner: 'carol', provider: provider('github'), mode: 'cached', signal }),
    ).toMatchObject({ status: 'token', token: { accessToken: 'token-for-carol' } });
    expect(
      await source.fetchToken({ owner: 'main', provider: provider('github'), mode: 'cached', signal }),
    ).toMatchObject({ status: 'token', token: { accessToken: 'token-for-main' } });
  });

  it("refuses the connection named like the owner when it is another end user's", async () => {
    const source = createSource();
    api.getAnswers = [() => connectionOf('carol', 'dave')];
    expect(
      await source.fetchToken({ owner: 'carol', provider: provider('github'), mode: 'cached', signal }),
    ).toEqual({
      status: 'needs_auth',
      code: 'CONNECTION_NOT_OWNED',
      reason: 'the Nango connection "carol" of integration "github" belongs to another end user',
    });
  });
});

describe('NangoSource: a recorded connection that Nango no longer has', () => {
  it("is replaced by the owner's connection Nango lists now, and forgotten", async () => {
    const source = createSource();
    await registry.set('alice', 'github', 'dead');
    api.getAnswers = [
      () => {
        throw httpError(404, 'not_found');
      },
    ];
    api.connections = [
      { connection_id: 'alive', provider_config_key: 'github', created: '2030-01-01T00:00:00Z' },
    ];
    expect(
      await source.fetchToken({ owner: 'alice', provider: provider('github'), mode: 'cached', signal }),
    ).toMatchObject({ status: 'token', token: { accessToken: 'token-for-alive' } });
    expect(await registry.get('alice', 'github')).toBe('alive');
    expect(
      api.calls.filter((call) => call.method === 'getConnection').map((call) => call.args.connectionId),
    ).toEqual(['dead', 'alive']);
  });

  it('needs authorization when Nango lists no other connection for the owner', async () => {
    const source = createSource();
    await registry.set('alice', 'github', 'dead');
    api.getAnswers = [
      () => {
        throw httpError(404, 'not_found');
      },
    ];
    expect(
      await source.fetchToken({ owner: 'alice', provider: provider('github'), mode: 'cached', signal }),
    ).toMatchObject({ status: 'needs_auth', code: 'CONNECTION_NOT_FOUND' });
  });
});

describe('NangoSource.fetchToken', () => {
  it('asks for a refresh when forced and for the refresh token only when the provider exposes it', async () => {
    const source = createSource();
    await source.fetchToken({ owner: 'main', provider: provider('github'), mode: 'refresh', signal });
    await source.fetchToken({
      owner: 'main',
      provider: provider('slack', { exposeRefreshToken: true }),
      mode: 'cached',
      signal,
    });
    expect(api.calls.filter((call) => call.method === 'getConnection').map((call) => call.args)).toEqual([
      expect.objectContaining({
        integration: 'github',
        connectionId: 'main',
        forceRefresh: true,
        includeRefreshToken: false,
      }),
      expect.objectContaining({ integration: 'slack', forceRefresh: false, includeRefreshToken: true }),
    ]);
  });

  it('maps Nango failures to needs-auth and unavailable', async () => {
    const source = createSource();
    const fetch = () =>
      source.fetchToken({ owner: 'main', provider: provider('github'), mode: 'cached', signal });
    api.getAnswers.push(() => {
      throw httpError(404, 'not_found');
    });
    expect(await fetch()).toMatchObject({ status: 'needs_auth', code: 'CONNECTION_NOT_FOUND' });
    api.getAnswers.push(() => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    });
    expect(await fetch()).toMatchObject({ status: 'unavailable', code: 'SOURCE_UNREACHABLE' });
  });

  it('throws configuration errors and malformed answers instead of answering', async () => {
    const source = createSource();
    const fetch = () =>
      source.fetchToken({ owner: 'main', provider: provider('github'), mode: 'cached', signal });
    api.getAnswers.push(() => {
      throw httpError(401, 'unknown_account');
    });
    await expect(fetch()).rejects.toThrow(TokenSourceConfigError);
    api.getAnswers.push(() => '<html>not json</html>');
    await expect(fetch()).rejects.toThrow(InvalidSourceResponseError);
    api.listAnswers.push(() => ({ unexpected: true }));
    source.forgetOwner('main');
    await expect(fetch()).rejects.toThrow(InvalidSourceResponseError);
  });

  it('rethrows failures that are not HTTP failures', async () => {
    api.getAnswers.push(() => {
      throw new TypeError('bug');
    });
    await expect(
      createSource().fetchToken({ owner: 'main', provider: provider('github'), mode: 'cached', signal }),
    ).rejects.toThrow(TypeError);
  });
});

describe('NangoSource: the rate limit', () => {
  it('waits for Retry-After and tries again', async () => {
    const source = createSource();
    api.getAnswers.push(() => {
      throw httpError(429, 'too_many_request', { 'retry-after': '2' });
    });
    const outcome = await source.fetchToken({
      owner: 'main',
      provider: provider('github'),
      mode: 'cached',
      signal,
    });
    expect(outcome.status).toBe('token');
    expect(slept).toEqual([2000]);
    expect(api.count('getConnection')).toBe(2);
  });

  it('also waits when listing connections hits the limit', async () => {
    api.listAnswers.push(() => {
      throw httpError(429, 'too_many_request', { 'retry-after': '1' });
    });
    const outcome = await createSource().fetchToken({
      owner: 'alice',
      provider: provider('github'),
      mode: 'cached',
      signal,
    });
    expect(outcome.status).toBe('token');
    expect(slept).toEqual([1000]);
    expect(api.count('listConnections')).toBe(2);
  });

  it('makes later calls wait too instead of adding to the pile', async () => {
    const source = createSource();
    api.getAnswers.push(() => {
      throw httpError(429, 'too_many_request', { 'retry-after': '5' });
    });
    await source.fetchToken({ owner: 'main', provider: provider('github'), mode: 'cached', signal });
    // The clock moved on with the sleep; a new pause makes the next caller wait before asking.
    api.getAnswers.push(() => {
      throw httpError(429, 'too_many_request', { 'retry-after': '3' });
    });
    await source.fetchToken({ owner: 'main', provider: provider('slack'), mode: 'cached', signal });
    expect(slept).toEqual([5000, 3000]);
  });

  it('gives up after three answers of 429', async () => {
    for (let index = 0; index < 3; index++) {
      api.getAnswers.push(() => {
        throw httpError(429, 'too_many_request', { 'retry-after': '1' });
      });
    }
    const outcome = await createSource().fetchToken({
      owner: 'main',
      provider: provider('github'),
      mode: 'cached',
      signal,
    });
    expect(outcome).toMatchObject({ status: 'unavailable', code: 'RATE_LIMITED', retryAfterMs: 1000 });
    expect(api.count('getConnection')).toBe(3);
  });

  it('answers unavailable at once when Retry-After is longer than it will wait', async () => {
    const source = createSource({ maxRetryWaitMs: 30_000 });
    api.getAnswers.push(() => {
      throw httpError(429, 'too_many_request', { 'retry-after': '240' });
    });
    const first = await source.fetchToken({
      owner: 'main',
      provider: provider('github'),
      mode: 'cached',
      signal,
    });
    expect(first).toMatchObject({ status: 'unavailable', code: 'RATE_LIMITED', retryAfterMs: 240_000 });
    const second = await source.fetchToken({
      owner: 'main',
      provider: provider('slack'),
      mode: 'cached',
      signal,
    });
    expect(second).toMatchObject({ status: 'unavailable', code: 'RATE_LIMITED', retryAfterMs: 240_000 });
    expect(slept).toEqual([]);
    expect(api.count('getConnection')).toBe(1);
    clock += 240_000;
    expect(
      await source.fetchToken({ owner: 'main', provider: provider('slack'), mode: 'cached', signal }),
    ).toMatchObject({
      status: 'token',
    });
  });
});

describe('NangoSource: connect sessions and disconnect', () => {
  it('creates a connect session for the owner limited to the integration', async () => {
    const source = createSource();
    const session = await source.createConnectSession(
      'alice',
      provider('google-calendar', { integration: 'gcal' }),
      signal,
    );
    expect(session.token).toBe('session-token');
    expect(api.calls.at(-1)).toEqual({
      method: 'createConnectSession',
      args: { endUserId: 'alice', allowedIntegrations: ['gcal'], signal: undefined },
    });
    expect(await source.authorizationUrl({ owner: 'alice', provider: provider('github'), signal })).toBe(
      'https://connect.example/?session_token=s',
    );
  });

  it('deletes the connection and forgets it, even when Nango no longer has it', async () => {
    const source = createSource();
    await registry.set('alice', 'github', 'conn-1');
    api.deleteAnswer = () => {
      throw httpError(404, 'not_found');
    };
    await source.disconnect({ owner: 'alice', provider: provider('github'), signal });
    expect(api.calls.at(-1)).toEqual({
      method: 'deleteConnection',
      args: { integration: 'github', connectionId: 'conn-1' },
    });
    expect(await registry.get('alice', 'github')).toBeNull();
  });

  it('forgets a connection Nango answers 400 unknown_connection for: it is gone already', async () => {
    const source = createSource();
    await registry.set('alice', 'github', 'conn-1');
    api.deleteAnswer = () => {
      throw httpError(400, 'unknown_connection');
    };
    await source.disconnect({ owner: 'alice', provider: provider('github'), signal });
    expect(await registry.get('alice', 'github')).toBeNull();
  });

  it('names the integration when Nango has no such integration for a connect session', async () => {
    const source = createSource();
    api.sessionAnswer = () => {
      throw httpError(
        400,
        'invalid_body',
        {},
        {
          errors: [
            { code: 'custom', message: 'Integration does not exist', path: ['allowed_integrations', 0] },
          ],
        },
      );
    };
    const error = await source
      .createConnectSession('alice', provider('google-calendar', { integration: 'gcal' }), signal)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TokenSourceConfigError);
    expect(error).toMatchObject({
      code: 'TOKEN_SOURCE_CONFIG',
      message: 'Nango has no integration "gcal": create it in Nango or fix the provider\'s integration id',
    });
  });

  it('adds the API URL to the link for a person when Nango is self-hosted', async () => {
    const source = createSource({ linkApiUrl: 'http://127.0.0.1:3003' });
    const session = await source.createConnectSession('alice', provider('github'), signal);
    const link = new URL(session.connectLink!);
    expect(link.searchParams.get('session_token')).toBe('s');
    expect(link.searchParams.get('apiURL')).toBe('http://127.0.0.1:3003');
    const cloud = await createSource().createConnectSession('alice', provider('github'), signal);
    expect(cloud.connectLink).toBe('https://connect.example/?session_token=s');
  });

  it('keeps the record when Nango cannot delete now', async () => {
    const source = createSource();
    await registry.set('alice', 'github', 'conn-1');
    api.deleteAnswer = () => {
      throw httpError(503, 'server_error');
    };
    await expect(
      source.disconnect({ owner: 'alice', provider: provider('github'), signal }),
    ).rejects.toMatchObject({
      code: 'TOKEN_SOURCE_UNAVAILABLE',
    });
    expect(await registry.get('alice', 'github')).toBe('conn-1');
  });
});
