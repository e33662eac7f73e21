import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SdkNangoApi } from '../../../src/sources/nango/nango-api.js';
import { describeNangoFailure } from '../../../src/sources/nango/map-nango-error.js';
import { parseConnectionResponse } from '../../../src/sources/nango/parse-nango-response.js';
import { FakeNangoServer, nangoReplies } from '../../support/fake-nango-server.js';

let server: FakeNangoServer;
let api: SdkNangoApi;
const signal = new AbortController().signal;

beforeEach(async () => {
  server = await FakeNangoServer.start();
  api = new SdkNangoApi({
    host: server.url,
    secretKey: server.secretKey,
    webhookSigningKey: null,
    timeoutMs: 2000,
  });
});
afterEach(async () => {
  await server.close();
});

async function failureOf(promise: Promise<unknown>) {
  const error = await promise.then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(error).not.toBeNull();
  return { error, failure: describeNangoFailure(error) };
}

describe('SdkNangoApi over HTTP (the real @nangohq/node client)', () => {
  it('reads a connection with the flags as query parameters', async () => {
    const connection = server.addConnection({ integration: 'github', connectionId: 'main', scope: 'repo' });
    const data = await api.getConnection('github', 'main', {
      forceRefresh: false,
      includeRefreshToken: true,
      signal,
    });
    expect(parseConnectionResponse(data, 'github')).toEqual({
      accessToken: connection.accessToken,
      tokenType: 'Bearer',
      expiresAt: connection.expiresAt,
      scopes: ['repo'],
      refreshToken: connection.refreshToken,
    });
    expect(server.requests[0]).toMatchObject({
      method: 'GET',
      path: '/connections/main',
      query: { provider_config_key: 'github', force_refresh: 'false', refresh_token: 'true' },
    });
  });

  it('escapes connection ids that are not plain words', async () => {
    for (const id of ['team/alpha', 'a?b=c', 'x#y', 'person@example.com', '../main']) {
      server.addConnection({ integration: 'github', connectionId: id });
      await api.getConnection('github', id, { forceRefresh: false, includeRefreshToken: false, signal });
      expect(server.requests.at(-1)!.connectionId).toBe(id);
      await api.deleteConnection('github', id, { signal });
      expect(server.requests.at(-1)).toMatchObject({
        method: 'DELETE',
        connectionId: id,
        integration: 'github',
      });
      expect(server.getConnection('github', id)).toBeUndefined();
    }
  });

  it("lists an end user's connections", async () => {
    server.addConnection({ integration: 'github', endUserId: 'alice', connectionId: 'c1' });
    server.addConnection({ integration: 'slack', endUserId: 'bob', connectionId: 'c2' });
    const data = (await api.listConnections({ endUserId: 'alice', signal })) as { connections: unknown[] };
    expect(data.connections).toEqual([
      expect.objectContaining({ connection_id: 'c1', provider_config_key: 'github' }),
    ]);
    expect(server.requests[0]!.query).toEqual({ endUserId: 'alice' });
  });

  it('creates a connect session for an end user', async () => {
    const data = (await api.createConnectSession({
      endUserId: 'alice',
      allowedIntegrations: ['github'],
      signal,
    })) as {
      data: { token: string; connect_link: string };
    };
    expect(data.data.token).toMatch(/^nango_connect_session_/);
    expect(server.connectSessions).toEqual([
      expect.objectContaining({ endUserId: 'alice', allowedIntegrations: ['github'] }),
    ]);
    const created = server.completeConnectSession(data.data.token, 'github');
    expect(created.endUserId).toBe('alice');
  });

  it('sends the key as a bearer token; a wrong key is 401 unknown_account', async () => {
    const wrong = new SdkNangoApi({
      host: server.url,
      secretKey: 'wrong',
      webhookSigningKey: null,
      timeoutMs: 2000,
    });
    const { failure } = await failureOf(wrong.listConnections({ endUserId: 'alice', signal }));
    expect(failure).toMatchObject({ status: 401, errorCode: 'unknown_account' });
  });

  it('hands over Retry-After and error codes', async () => {
    server.reply({ route: 'getConnection' }, nangoReplies.rateLimited('7'), 1);
    const { failure } = await failureOf(
      api.getConnection('github', 'main', { forceRefresh: false, includeRefreshToken: false, signal }),
    );
    expect(failure).toEqual({
      status: 429,
      errorCode: 'too_many_request',
      errorMessage: 'Too many requests',
      invalidFields: [],
      retryAfterHeader: '7',
      transportCode: 'ERR_BAD_REQUEST',
    });
  });

  it('gives up after its timeout', async () => {
    const quick = new SdkNangoApi({
      host: server.url,
      secretKey: server.secretKey,
      webhookSigningKey: null,
      timeoutMs: 200,
    });
    server.reply({}, nangoReplies.slow(2000));
    const { failure } = await failureOf(quick.listConnections({ endUserId: 'alice', signal }));
    expect(failure).toMatchObject({ status: null, transportCode: 'ECONNABORTED' });
  });

  it('stops a call when its signal is aborted', async () => {
    server.reply({}, nangoReplies.slow(2000));
    const controller = new AbortController();
    const call = api.listConnections({ endUserId: 'alice', signal: controller.signal });
    setTimeout(() => controller.abort(new Error('stop')), 50);
    const { failure } = await failureOf(call);
    expect(failure.status).toBeNull();
    expect(failure.transportCode).toBe('ERR_CANCELED');
  });

  it('never carries the key in what we read from a failure', async () => {
    server.reply({}, nangoReplies.serverError(500));
    const { failure } = await failureOf(api.listConnections({ endUserId: 'alice', signal }));
    expect(failure).toMatchObject({ status: 500, errorCode: 'server_error' });
    expect(JSON.stringify(failure)).not.toContain(server.secretKey);
  });

  it('signs webhooks the way the SDK checks them, with the signing key or else the secret key', async () => {
    const connection = server.addConnection({ integration: 'github', endUserId: 'alice' });
    const webhook = server.authWebhook(connection, { operation: 'creation' });
    expect(JSON.parse(webhook.rawBody)).toMatchObject({
      type: 'auth',
      operation: 'creation',
      success: true,
      connectionId: connection.connectionId,
      providerConfigKey: 'github',
      endUser: { endUserId: 'alice' },
    });
    expect(api.verifyWebhook(webhook.rawBody, webhook.headers)).toBe(true);
    expect(api.verifyWebhook(`${webhook.rawBody} `, webhook.headers)).toBe(false);

    const signed = await FakeNangoServer.start({ webhookSigningKey: 'signing-key' });
    try {
      const withKey = new SdkNangoApi({
        host: signed.url,
        secretKey: signed.secretKey,
        webhookSigningKey: 'signing-key',
        timeoutMs: 2000,
      });
      const failed = signed.authWebhook(signed.addConnection({ integration: 'github' }), {
        operation: 'refresh',
        success: false,
      });
      expect(JSON.parse(failed.rawBody)).toMatchObject({
        success: false,
        error: { type: 'refresh_token_error' },
      });
      expect(withKey.verifyWebhook(failed.rawBody, failed.headers)).toBe(true);
      expect(api.verifyWebhook(failed.rawBody, failed.headers)).toBe(false);
    } finally {
      await signed.close();
    }
  });
});
