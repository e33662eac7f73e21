import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_PATH } from '../../../src/demo/demo-oauth-server.js';
import { EventBus } from '../../../src/events/event-bus.js';
import type { NanoclawEvent } from '../../../src/events/types.js';
import { createLogger } from '../../../src/log/logger.js';
import type { BuiltinSource } from '../../../src/sources/builtin/builtin-source.js';
import { TokenSourceRegistry } from '../../../src/sources/token-source.js';
import { TokenFolder } from '../../../src/tokens/token-folder.js';
import { TokenSync } from '../../../src/tokens/token-sync.js';
import { startTestOidcServer, type DemoOAuthServer } from '../../support/oidc-server.js';
import {
  builtinProvider,
  builtinSource,
  connectOwner,
  DEMO_CALLBACK,
  demoConfig,
  expectNoSecrets,
  NEVER,
  temporaryDataDir,
} from './fixture.js';

let server: DemoOAuthServer;

beforeAll(async () => {
  server = await startTestOidcServer({ redirectUris: [DEMO_CALLBACK] });
});
afterAll(() => server.close());

const requestsSince = (start: number) => server.tokenRequests.slice(start);

async function whoami(accessToken: string | null | undefined): Promise<number> {
  const response = await fetch(`${server.issuer}${DEMO_API_PATH}`, {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  await response.body?.cancel();
  return response.status;
}

/** Plays a client that still holds a refresh token we already rotated (a leaked copy, a restored backup). */
async function replayRefreshToken(refreshToken: string): Promise<void> {
  const issuer = new URL(server.issuer);
  const options = { [oauth.allowInsecureRequests]: true };
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, options));
  const client = { client_id: server.webClient.clientId };
  const response = await oauth.refreshTokenGrantRequest(
    as,
    client,
    oauth.ClientSecretBasic(server.webClient.clientSecret),
    refreshToken,
    options,
  );
  await expect(oauth.processRefreshTokenResponse(as, client, response)).rejects.toMatchObject({
    error: 'invalid_grant',
  });
}

/** Moves the access token to within the refresh margin, as time would. */
async function makeExpiring(source: BuiltinSource, owner: string, provider: string): Promise<void> {
  const grant = (await source.store.read(owner, provider))!;
  await source.store.write({
    ...grant,
    obtainedAt: new Date(Date.now() - 3_600_000),
    expiresAt: new Date(Date.now() + 30_000),
    generation: grant.generation + 1,
  });
}

describe('refresh against a real oidc-provider that rotates refresh tokens', () => {
  it('refreshes with rotation: the new refresh token is stored and the new access token works', async () => {
    await using data = await temporaryDataDir();
    const config = demoConfig(server, { dataDir: data.dir });
    const source = builtinSource(config, { forceMinAgeMs: 0 });
    const provider = builtinProvider(config, 'demo');
    await connectOwner(source, 'alice');
    const first = (await source.store.read('alice', 'demo'))!;
    const before = server.tokenRequests.length;

    const outcome = await source.fetchToken({ owner: 'alice', provider, mode: 'refresh', signal: NEVER });
    const second = (await source.store.read('alice', 'demo'))!;
    expect(outcome).toMatchObject({ status: 'token', token: { accessToken: second.accessToken } });
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    // One write marks the refresh as sent, one stores its answer.
    expect(second).toMatchObject({ status: 'active', generation: 3, authorizedAt: first.authorizedAt });
    expect(second.lastRefreshedAt).toBeInstanceOf(Date);
    expect(requestsSince(before)).toEqual([
      { grantType: 'refresh_token', clientId: 'nanoclaw-demo', status: 200, error: null, detail: null },
    ]);
    expect(await whoami(second.accessToken)).toBe(200);
    await source.close();
  });

  it('makes one refresh request however many callers ask at once', async () => {
    await using data = await temporaryDataDir();
    const config = demoConfig(server, { dataDir: data.dir });
    const source = builtinSource(config);
    const provider = builtinProvider(config, 'demo');
    await connectOwner(source, 'alice');
    await makeExpiring(source, 'alice', 'demo');
    const before = server.tokenRequests.length;

    const outcomes = await Promise.all(
      Array.from({ length: 5 }, () =>
        source.fetchToken({ owner: 'alice', provider, mode: 'cached', signal: NEVER }),
      ),
    );
    const tokens = new Set(
      outcomes.map((outcome) => outcome.status === 'token' && outcome.token.accessToken),
    );
    expect(tokens.size).toBe(1);
    expect(requestsSince(before).map((request) => [request.grantType, request.status])).toEqual([
      ['refresh_token', 200],
    ]);
    // Now fresh: handed out without asking.
    await source.fetchToken({ owner: 'alice', provider, mode: 'cached', signal: NEVER });
    expect(requestsSince(before)).toHaveLength(1);
    await source.close();
  });

  it('lands in needs_auth without a retry loop when a replayed refresh token got the grant revoked', async () => {
    await using data = await temporaryDataDir();
    const config = demoConfig(server, { dataDir: data.dir });
    const source = builtinSource(config, { forceMinAgeMs: 0 });
    const events = new EventBus(() => {});
    const seen: NanoclawEvent[] = [];
    events.subscribe((event) => seen.push(event));
    const folder = new TokenFolder(config.tokensDir);
    const tokenSync = new TokenSync({
      config,
      folder,
      sources: new TokenSourceRegistry({ builtin: source }),
      events,
      logger: createLogger({ level: 'silent' }),
    });
    await connectOwner(source, 'alice');
    const original = (await source.store.read('alice', 'demo'))!;
    expect(await tokenSync.sync('alice', 'demo', { force: true })).toMatchObject({ state: 'refreshed' });
    const rotated = (await source.store.read('alice', 'demo'))!;
    expect(rotated.refreshToken).not.toBe(original.refreshToken);

    // Someone replays the refresh token we rotated away from: the provider revokes the whole grant.
    await replayRefreshToken(original.refreshToken!);
    expect(await whoami(rotated.accessToken)).toBe(401);

    const before = server.tokenRequests.length;
    const result = await tokenSync.sync('alice', 'demo', { force: true });
    expect(result).toMatchObject({ state: 'needs-auth', code: 'GRANT_REVOKED', usable: false });
    expect(requestsSince(before).map((request) => [request.grantType, request.error])).toEqual([
      ['refresh_token', 'invalid_grant'],
    ]);
    expect((await folder.read('alice', 'demo')).state).toBe('missing');
    expect(seen.filter((event) => event.type === 'token_needs_auth')).toHaveLength(1);
    expect(await source.store.read('alice', 'demo')).toMatchObject({
      status: 'needs_auth',
      accessToken: null,
      refreshToken: null,
      needsAuth: { code: 'GRANT_REVOKED' },
    });

    // Asking again, forced or not, answers from the store: not one more token request.
    const provider = builtinProvider(config, 'demo');
    for (const force of [true, false, true]) {
      expect(
        await source.fetchToken({
          owner: 'alice',
          provider,
          mode: force ? 'refresh' : 'cached',
          signal: NEVER,
        }),
      ).toMatchObject({
        status: 'needs_auth',
        code: 'GRANT_REVOKED',
      });
    }
    expect(requestsSince(before)).toHaveLength(1);
    expectNoSecrets(
      [result, seen],
      [original.accessToken, original.refreshToken, rotated.accessToken, rotated.refreshToken],
    );
    await source.close();
  });

  it('answers needs_auth after the grant was revoked at the provider', async () => {
    await using data = await temporaryDataDir();
    const config = demoConfig(server, { dataDir: data.dir });
    const source = builtinSource(config, { forceMinAgeMs: 0 });
    const provider = builtinProvider(config, 'demo');
    await connectOwner(source, 'alice');
    const grant = (await source.store.read('alice', 'demo'))!;

    // The user removes the app's access at the provider.
    const issuer = new URL(server.issuer);
    const options = { [oauth.allowInsecureRequests]: true };
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, options));
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(
        as,
        { client_id: server.webClient.clientId },
        oauth.ClientSecretBasic(server.webClient.clientSecret),
        grant.refreshToken!,
        options,
      ),
    );

    const outcome = await source.fetchToken({ owner: 'alice', provider, mode: 'refresh', signal: NEVER });
    expect(outcome).toMatchObject({ status: 'needs_auth', code: 'GRANT_REVOKED' });
    expect(outcome.status === 'needs_auth' && outcome.reason).toMatch(/authorize again/);
    await source.close();
  });

  it('disconnect revokes the grant at the provider and deletes it here', async () => {
    await using data = await temporaryDataDir();
    const config = demoConfig(server, { dataDir: data.dir });
    const source = builtinSource(config);
    const provider = builtinProvider(config, 'demo');
    await connectOwner(source, 'alice');
    const grant = (await source.store.read('alice', 'demo'))!;
    expect(await whoami(grant.accessToken)).toBe(200);

    await source.disconnect({ owner: 'alice', provider, signal: NEVER });
    expect(await source.store.read('alice', 'demo')).toBeNull();
    expect(await whoami(grant.accessToken)).toBe(401);
    await replayRefreshToken(grant.refreshToken!);
    expect(
      await source.fetchToken({ owner: 'alice', provider, mode: 'cached', signal: NEVER }),
    ).toMatchObject({
      status: 'needs_auth',
      code: 'NOT_CONNECTED',
    });
    await source.close();
  });
});

describe('client credentials', () => {
  it('fetches one token for every owner and renews it', async () => {
    await using data = await temporaryDataDir();
    const config = demoConfig(server, { dataDir: data.dir });
    const source = builtinSource(config, { forceMinAgeMs: 0 });
    const provider = builtinProvider(config, 'demo-service');
    const before = server.tokenRequests.length;

    const [alice, bob] = await Promise.all(
      ['alice', 'bob'].map((owner) => source.fetchToken({ owner, provider, mode: 'cached', signal: NEVER })),
    );
    expect(alice).toMatchObject({ status: 'token', token: { tokenType: 'Bearer', scopes: ['demo:read'] } });
    expect(bob).toEqual(alice);
    const token = alice?.status === 'token' ? alice.token.accessToken : null;
    expect(await whoami(token)).toBe(200);
    expect(await source.authorizationUrl({ owner: 'alice', provider, signal: NEVER })).toBeNull();

    // A third owner later: the stored token, no request.
    await source.fetchToken({ owner: 'carol', provider, mode: 'cached', signal: NEVER });
    expect(requestsSince(before)).toEqual([
      {
        grantType: 'client_credentials',
        clientId: 'nanoclaw-demo-service',
        status: 200,
        error: null,
        detail: null,
      },
    ]);
    const renewed = await source.fetchToken({ owner: 'alice', provider, mode: 'refresh', signal: NEVER });
    expect(renewed.status === 'token' && renewed.token.accessToken).not.toBe(token);
    expect(requestsSince(before)).toHaveLength(2);
    await source.close();
  });

  it('throws a configuration error when the client is rejected, without its secret', async () => {
    await using data = await temporaryDataDir();
    const wrongSecret = 'not-the-demo-service-secret';
    const config = demoConfig(server, {
      dataDir: data.dir,
      providers: [
        {
          name: 'demo-service',
          grant: 'client_credentials',
          issuer: server.issuer,
          clientId: server.serviceClient.clientId,
          clientSecret: wrongSecret,
          scopes: ['demo:read'],
        },
      ],
    });
    const source = builtinSource(config);
    const provider = builtinProvider(config, 'demo-service');
    const error = await source.fetchToken({ owner: 'alice', provider, mode: 'cached', signal: NEVER }).then(
      () => null,
      (caught: unknown) => caught as Error & { code: string },
    );
    expect(error?.code).toBe('TOKEN_SOURCE_CONFIG');
    expect(error?.message).toMatch(/invalid_client/);
    expectNoSecrets(
      [error?.message, JSON.stringify(error)],
      [wrongSecret, server.serviceClient.clientSecret],
    );
    await source.close();
  });
});

describe('when the provider cannot be reached', () => {
  it('answers unavailable and keeps the current grant', async () => {
    await using data = await temporaryDataDir();
    await using other = await startTestOidcServer({ redirectUris: [DEMO_CALLBACK] });
    const config = demoConfig(other, { dataDir: data.dir });
    const source = builtinSource(config, { forceMinAgeMs: 0 });
    const provider = builtinProvider(config, 'demo');
    await connectOwner(source, 'alice');
    const before = (await source.store.read('alice', 'demo'))!;
    await other.close();

    const outcome = await source.fetchToken({ owner: 'alice', provider, mode: 'refresh', signal: NEVER });
    expect(outcome).toMatchObject({ status: 'unavailable', code: 'PROVIDER_UNAVAILABLE' });
    expect(outcome.status === 'unavailable' && outcome.reason).toMatch(
      /cannot reach the provider \(ECONNREFUSED\)/,
    );
    // The same tokens, unmarked: the request never reached the provider (the mark was written and dropped).
    expect(await source.store.read('alice', 'demo')).toEqual({
      ...before,
      generation: before.generation + 2,
    });
    expectNoSecrets([outcome], [before.accessToken, before.refreshToken, other.webClient.clientSecret]);
    await source.close();
  });
});
