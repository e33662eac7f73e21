import { readFile, stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/events/event-bus.js';
import type { NanoclawEvent } from '../../../src/events/types.js';
import { createLogger } from '../../../src/log/logger.js';
import { createSources } from '../../../src/sources/create-sources.js';
import { OAuthFlowError } from '../../../src/sources/builtin/builtin-errors.js';
import { newBrowserBinding } from '../../../src/sources/builtin/pending-authorizations.js';
import { TokenFolder } from '../../../src/tokens/token-folder.js';
import { TokenSync } from '../../../src/tokens/token-sync.js';
import { DEMO_API_PATH } from '../../../src/demo/demo-oauth-server.js';
import { startTestOidcServer, type DemoOAuthServer } from '../../support/oidc-server.js';
import {
  authorizeInBrowser,
  builtinProvider,
  builtinSource,
  DEMO_CALLBACK,
  demoConfig,
  expectNoSecrets,
  NEVER,
  temporaryDataDir,
  thrown,
} from './fixture.js';

let server: DemoOAuthServer;

beforeAll(async () => {
  server = await startTestOidcServer({ redirectUris: [DEMO_CALLBACK] });
});
afterAll(() => server.close());

const tokenRequestsSince = (start: number) => server.tokenRequests.slice(start);

describe('authorization code with PKCE against a real oidc-provider', () => {
  it('connects an owner end to end: consent, exchange, encrypted store, token file and event', async () => {
    await using data = await temporaryDataDir();
    const config = demoConfig(server, { dataDir: data.dir });
    const sources = createSources(config);
    const source = sources.builtin!;
    const provider = builtinProvider(config, 'demo');
    const before = server.tokenRequests.length;

    // The start URL the page and the terminal show.
    expect(await source.authorizationUrl({ owner: 'alice', provider, signal: NEVER })).toBe(
      'http://127.0.0.1:3999/auth/oauth/demo/start?owner=alice',
    );

    const visit = await authorizeInBrowser(source, { owner: 'alice' });
    expect(visit.callback.searchParams.get('code')).toBeTruthy();
    expect(visit.callback.searchParams.get('iss')).toBe(server.issuer);

    const completed = await source.completeAuthorization({
      provider: 'demo',
      query: visit.callback.searchParams,
      browserBinding: visit.browserBinding,
      signal: NEVER,
    });
    expect(completed).toEqual({ owner: 'alice', provider: 'demo' });
    expect(tokenRequestsSince(before)).toEqual([
      { grantType: 'authorization_code', clientId: 'nanoclaw-demo', status: 200, error: null, detail: null },
    ]);

    // What the callback route does next: sync the token file, which emits token_synced.
    const events = new EventBus(() => {});
    const seen: NanoclawEvent[] = [];
    events.subscribe((event) => seen.push(event));
    const folder = new TokenFolder(config.tokensDir);
    const tokenSync = new TokenSync({
      config,
      folder,
      sources: sources.registry,
      events,
      logger: createLogger({ level: 'silent' }),
    });
    const result = await tokenSync.sync('alice', 'demo', { force: true });
    expect(result).toMatchObject({ state: 'refreshed', usable: true, code: null });
    // The token just obtained is as new as a refresh would make it: no second token request.
    expect(tokenRequestsSince(before)).toHaveLength(1);
    expect(seen.map((event) => event.type)).toEqual(['token_synced']);

    const stored = await source.store.read('alice', 'demo');
    expect(stored).toMatchObject({
      status: 'active',
      tokenType: 'Bearer',
      scopes: ['demo:read'],
      generation: 1,
    });
    expect(stored?.refreshToken).toBeTruthy();
    const file = await folder.read('alice', 'demo');
    expect(file.state === 'present' && file.file.access_token).toBe(stored?.accessToken);
    expect(file.state === 'present' && file.file.refresh_token).toBeUndefined();

    // The token works at the demo API.
    const whoami = await fetch(`${server.issuer}${DEMO_API_PATH}`, {
      headers: { authorization: `Bearer ${stored?.accessToken}` },
    });
    expect(await whoami.json()).toMatchObject({
      sub: 'demo-user',
      client_id: 'nanoclaw-demo',
      scope: 'demo:read',
    });

    // And fetchToken hands out the stored token without asking the provider.
    const outcome = await source.fetchToken({ owner: 'alice', provider, mode: 'cached', signal: NEVER });
    expect(outcome).toMatchObject({ status: 'token', token: { accessToken: stored?.accessToken } });
    expect(tokenRequestsSince(before)).toHaveLength(1);
    expectNoSecrets(seen, [stored?.accessToken, stored?.refreshToken, server.webClient.clientSecret]);
    await sources.registry.close();
  });

  it('keeps the tokens encrypted on disk, in private files', async () => {
    await using data = await temporaryDataDir();
    const config = demoConfig(server, { dataDir: data.dir });
    const source = builtinSource(config);
    const visit = await authorizeInBrowser(source, { owner: 'alice' });
    await source.completeAuthorization({
      provider: 'demo',
      query: visit.callback.searchParams,
      browserBinding: visit.browserBinding,
      signal: NEVER,
    });
    const stored = await source.store.read('alice', 'demo');
    const grantFile = source.store.grantFile('alice', 'demo');
    const raw = await readFile(grantFile);
    for (const token of [stored!.accessToken!, stored!.refreshToken!]) {
      expect(raw.includes(token)).toBe(false);
      expect(raw.includes(Buffer.from(token).toString('base64'))).toBe(false);
      expect(raw.includes(Buffer.from(token).toString('base64url'))).toBe(false);
    }
    const record = JSON.parse(raw.toString('utf8'));
    expect(record).toMatchObject({ status: 'active', owner: 'alice', provider: 'demo', generation: 1 });
    expect(record.last_refreshed_at).toBeNull();
    expect(record.access_token).toMatch(/^v1\./);
    expect((await stat(grantFile)).mode & 0o777).toBe(0o600);
    expect((await stat(source.store.keyFile)).mode & 0o777).toBe(0o600);
    await source.close();
  });

  it('refuses a code sent with another PKCE verifier, and stores nothing', async () => {
    await using data = await temporaryDataDir();
    const config = demoConfig(server, { dataDir: data.dir });
    const source = builtinSource(config);
    const browserBinding = newBrowserBinding();
    // Two authorizations in one browser; the first one's code goes back with the second one's state,
    // so the exchange sends a verifier that does not match the code's challenge.
    const first = await authorizeInBrowser(source, { owner: 'alice', browserBinding });
    const second = await source.beginAuthorization({
      owner: 'alice',
      provider: 'demo',
      browserBinding,
      signal: NEVER,
    });
    const secondState = new URL(second.redirectUrl).searchParams.get('state')!;
    const query = new URLSearchParams(first.callback.searchParams);
    query.set('state', secondState);
    const before = server.tokenRequests.length;

    const error = await thrown(
      source.completeAuthorization({ provider: 'demo', query, browserBinding, signal: NEVER }),
    );
    expect(error).toBeInstanceOf(OAuthFlowError);
    expect(error.code).toBe('OAUTH_EXCHANGE_FAILED');
    expect((error as OAuthFlowError).details.providerError).toBe('invalid_grant');
    expect(tokenRequestsSince(before)).toEqual([
      {
        grantType: 'authorization_code',
        clientId: 'nanoclaw-demo',
        status: 400,
        error: 'invalid_grant',
        detail: 'code_verifier does not match code_challenge',
      },
    ]);
    expect(await source.store.read('alice', 'demo')).toBeNull();
    expectNoSecrets([error.message, JSON.stringify(error)], [first.callback.searchParams.get('code')]);

    // The same code with its own state (and so its own verifier) is accepted: only the verifier was wrong.
    await source.completeAuthorization({
      provider: 'demo',
      query: first.callback.searchParams,
      browserBinding,
      signal: NEVER,
    });
    expect(await source.store.read('alice', 'demo')).toMatchObject({ status: 'active' });
    await source.close();
  });

  it('refuses a replayed state, and a state from another browser', async () => {
    await using data = await temporaryDataDir();
    const config = demoConfig(server, { dataDir: data.dir });
    const source = builtinSource(config);

    const visit = await authorizeInBrowser(source, { owner: 'alice' });
    const complete = (browserBinding: string | null) =>
      source.completeAuthorization({
        provider: 'demo',
        query: visit.callback.searchParams,
        browserBinding,
        signal: NEVER,
      });
    await complete(visit.browserBinding);
    const before = server.tokenRequests.length;
    const replay = await thrown(complete(visit.browserBinding));
    expect(replay.code).toBe('OAUTH_STATE_INVALID');
    expect(replay.message).toMatch(/unknown or was already used/);

    const other = await authorizeInBrowser(source, { owner: 'bob' });
    const wrongBrowser = await thrown(
      source.completeAuthorization({
        provider: 'demo',
        query: other.callback.searchParams,
        browserBinding: newBrowserBinding(),
        signal: NEVER,
      }),
    );
    expect(wrongBrowser.code).toBe('OAUTH_STATE_INVALID');
    expect(wrongBrowser.message).toMatch(/another browser/);
    expect((wrongBrowser as OAuthFlowError).details.owner).toBe('bob');
    // The attempt used the state up: the right browser cannot come back with it either.
    const afterwards = await thrown(
      source.completeAuthorization({
        provider: 'demo',
        query: other.callback.searchParams,
        browserBinding: other.browserBinding,
        signal: NEVER,
      }),
    );
    expect(afterwards.code).toBe('OAUTH_STATE_INVALID');
    const noCookie = await thrown(complete(null));
    expect(noCookie.code).toBe('OAUTH_STATE_INVALID');

    expect(tokenRequestsSince(before)).toEqual([]);
    expect(await source.store.read('bob', 'demo')).toBeNull();
    expectNoSecrets(
      [replay, wrongBrowser, afterwards].map((error) => error.message),
      [visit.callback.searchParams.get('code'), other.callback.searchParams.get('code')],
    );
    await source.close();
  });

  it('reports access_denied clearly and stores nothing', async () => {
    await using data = await temporaryDataDir();
    const config = demoConfig(server, { dataDir: data.dir });
    const source = builtinSource(config);
    const before = server.tokenRequests.length;
    const visit = await authorizeInBrowser(source, { owner: 'alice', answer: 'deny' });
    expect(visit.callback.searchParams.get('error')).toBe('access_denied');

    const error = await thrown(
      source.completeAuthorization({
        provider: 'demo',
        query: visit.callback.searchParams,
        browserBinding: visit.browserBinding,
        signal: NEVER,
      }),
    );
    expect(error).toBeInstanceOf(OAuthFlowError);
    expect(error.code).toBe('OAUTH_ACCESS_DENIED');
    expect((error as OAuthFlowError).details).toEqual({
      provider: 'demo',
      owner: 'alice',
      providerError: 'access_denied',
    });
    expect(JSON.stringify(error)).toBe(
      JSON.stringify({ code: 'OAUTH_ACCESS_DENIED', message: error.message }),
    );
    expect(tokenRequestsSince(before)).toEqual([]);
    expect(await source.store.read('alice', 'demo')).toBeNull();
    await source.close();
  });
});
