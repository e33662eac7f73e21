import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { demoProviderEntries } from '../../../src/demo/demo-providers.js';
import { builtinCallbackUrl } from '../../../src/sources/builtin/builtin-urls.js';
import { authorizeHeadless, startTestOidcServer, type DemoOAuthServer } from '../../support/oidc-server.js';
import { TestDaemon } from './daemon-harness.js';
import { withChosenPort } from '../../support/port-retry.js';

let oauth: DemoOAuthServer;
let daemon: TestDaemon;
let callbackUrl: string;

beforeEach(async () => {
  // The redirect URI names the daemon's port, so it is chosen first (and again if someone takes it).
  await withChosenPort(async (port) => {
    const publicUrl = `http://127.0.0.1:${port}`;
    callbackUrl = builtinCallbackUrl(publicUrl, 'demo');
    oauth = await startTestOidcServer({ redirectUris: [callbackUrl] });
    try {
      daemon = await TestDaemon.start({
        config: { providers: demoProviderEntries(oauth) },
        env: { NANOCLAW_PUBLIC_URL: publicUrl },
        daemon: { port },
      });
    } catch (error) {
      await oauth.close();
      throw error;
    }
  });
});

afterEach(async () => {
  const transcript = daemon.transcript;
  await daemon.close();
  await oauth.close();
  expect(transcript).not.toContain(oauth.webClient.clientSecret);
});

const tokenFile = (owner: string) => path.join(daemon.dir, 'data', 'tokens', owner, 'demo.json');

/** GET /auth/oauth/demo/start as the page's popup does; returns the provider URL and the binding cookie. */
async function start(owner: string): Promise<{ location: string; cookie: string }> {
  const response = await daemon.api('GET', `/auth/oauth/demo/start?owner=${owner}`);
  expect(response.status).toBe(302);
  const setCookie = response.headers
    .getSetCookie()
    .find((line) => line.startsWith('nanoclaw_oauth_binding='))!;
  expect(setCookie).toMatch(/; Path=\/auth\/oauth; HttpOnly; SameSite=Lax$/);
  return { location: response.headers.get('location')!, cookie: setCookie.split(';')[0]! };
}

describe('built-in OAuth routes', () => {
  it('starts at the provider, and the callback stores the token and says so', async () => {
    const { location, cookie } = await start('alice');
    expect(location.startsWith(oauth.issuer)).toBe(true);
    const callback = await authorizeHeadless(location, { answer: 'allow', callbackUrl });

    const response = await fetch(callback, { headers: { cookie } });
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('demo is connected');
    expect(html).toContain('/assets/oauth-done.js');
    expect(response.headers.getSetCookie()[0]).toMatch(/^nanoclaw_oauth_binding=; Max-Age=0/);
    const file = JSON.parse(await readFile(tokenFile('alice'), 'utf8'));
    expect(file.provider).toBe('demo');
    expect(html).not.toContain(file.access_token);
    expect(daemon.events.some((event) => event.type === 'token_synced' && event.owner === 'alice')).toBe(
      true,
    );
  });

  it('needs the page session or the API token to start', async () => {
    const response = await daemon.api('GET', '/auth/oauth/demo/start?owner=alice', { auth: false });
    expect(response.status).toBe(401);
  });

  it('starts a sign-in with the page session only from the page itself, or a link opened by hand', async () => {
    const login = await daemon.api('POST', '/api/session', { auth: false, body: { token: daemon.token } });
    const session = login.headers
      .getSetCookie()
      .find((line) => line.startsWith('nanoclaw_session='))!
      .split(';')[0]!;
    const startWith = (headers: Record<string, string>) =>
      daemon.api('GET', '/auth/oauth/demo/start?owner=mallory2', {
        auth: false,
        headers: { cookie: session, ...headers },
      });
    // A page on another port of this host is the same *site*: SameSite=Strict lets the cookie go.
    for (const site of ['same-site', 'cross-site']) {
      const refused = await startWith({ 'sec-fetch-site': site, 'sec-fetch-mode': 'navigate' });
      expect(refused.status).toBe(403);
      expect(refused.body).toMatchObject({ error: { code: 'FORBIDDEN_ORIGIN' } });
      expect(refused.headers.get('location')).toBeNull();
    }
    // No Fetch metadata at all: nothing proves where it came from.
    expect((await startWith({})).status).toBe(403);
    // The page's popup, and a link pasted from the terminal into the address bar.
    for (const site of ['same-origin', 'none']) {
      const started = await startWith({ 'sec-fetch-site': site, 'sec-fetch-mode': 'navigate' });
      expect(started.status).toBe(302);
      expect(started.headers.get('location')?.startsWith(oauth.issuer)).toBe(true);
    }
  });

  it('refuses a callback from another browser, and a denied consent, without storing anything', async () => {
    const { location } = await start('alice');
    const callback = await authorizeHeadless(location, { answer: 'allow', callbackUrl });
    const stranger = await fetch(callback, {
      headers: { cookie: 'nanoclaw_oauth_binding=someone-elses-binding-value' },
    });
    expect(stranger.status).toBe(400);
    expect(await stranger.text()).toContain('Could not connect demo');

    const second = await start('bob');
    const denied = await authorizeHeadless(second.location, { answer: 'deny', callbackUrl });
    const response = await fetch(denied, { headers: { cookie: second.cookie } });
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('access to demo was denied');
    await expect(readFile(tokenFile('alice'))).rejects.toThrow();
    await expect(readFile(tokenFile('bob'))).rejects.toThrow();
    // Whoever waits for these authorizations hears that they ended.
    const failures = daemon.events.filter((event) => event.type === 'error');
    expect(failures).toEqual([
      expect.objectContaining({ code: 'OAUTH_STATE_INVALID', provider: 'demo', owner: 'alice' }),
      expect.objectContaining({ code: 'OAUTH_ACCESS_DENIED', provider: 'demo', owner: 'bob' }),
    ]);
  });

  it('emits nothing for a callback whose state is none of ours (any page can call this route)', async () => {
    const before = daemon.events.length;
    const forged = await fetch(`${callbackUrl}?state=not-a-state-of-ours&code=x`);
    expect(forged.status).toBe(400);
    expect(daemon.events.slice(before)).toEqual([]);
  });

  it('answers the page with the start URL for a built-in provider', async () => {
    const response = await daemon.api('POST', '/api/connect-sessions', {
      body: { owner: 'alice', provider: 'demo' },
    });
    expect(response.body).toEqual({
      flow: 'builtin',
      authorizationUrl: '/auth/oauth/demo/start?owner=alice',
    });
    const service = await daemon.api('POST', '/api/connect-sessions', {
      body: { owner: 'alice', provider: 'demo-service' },
    });
    expect(service.status).toBe(409);
    expect(service.body.error.code).toBe('NOTHING_TO_AUTHORIZE');
  });
});

describe('built-in OAuth on a port chosen at start', () => {
  it('sends the redirect URI of the address it actually listens at', async () => {
    const listening = await TestDaemon.start({
      config: { providers: demoProviderEntries(oauth) },
      daemon: { port: 0 },
    });
    try {
      const response = await listening.api('GET', '/auth/oauth/demo/start?owner=alice');
      expect(response.status).toBe(302);
      const redirectUri = new URL(response.headers.get('location')!).searchParams.get('redirect_uri');
      expect(redirectUri).toBe(builtinCallbackUrl(listening.daemon.url, 'demo'));
      expect(new URL(redirectUri!).port).not.toBe('0');
    } finally {
      await listening.close();
    }
  });
});
