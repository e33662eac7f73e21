import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeNangoServer } from '../../support/fake-nango-server.js';
import { rawRequest, TestDaemon } from './daemon-harness.js';

let daemon: TestDaemon | null = null;
let nango: FakeNangoServer | null = null;

afterEach(async () => {
  await daemon?.close();
  await nango?.close();
  daemon = null;
  nango = null;
});

function sessionCookieOf(headers: Headers): string {
  const cookie = headers.getSetCookie().find((line) => line.startsWith('nanoclaw_session='));
  if (!cookie) throw new Error('no session cookie was set');
  return cookie.split(';')[0]!;
}

describe('API authentication', () => {
  it('refuses calls without the API token, and with a wrong one', async () => {
    daemon = await TestDaemon.start();
    const anonymous = await daemon.api('GET', '/api/status', { auth: false });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe('UNAUTHORIZED');

    const wrong = await daemon.api('GET', '/api/status', {
      auth: false,
      headers: { authorization: `Bearer ${daemon.token}x` },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
    expect(wrong.text).not.toContain(daemon.token);

    const right = await daemon.api('GET', '/api/status');
    expect(right.status).toBe(200);
    expect(right.headers.get('cache-control')).toBe('no-store');
  });

  it('creates the API token file with mode 0600 on first start and keeps it', async () => {
    daemon = await TestDaemon.start();
    const file = path.join(daemon.dir, 'data', 'api-token');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const token = (await readFile(file, 'utf8')).trim();
    expect(token).toBe(daemon.token);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(daemon.daemon.apiToken.origin).toBe('created');
  });

  it('takes the token from NANOCLAW_API_TOKEN instead', async () => {
    daemon = await TestDaemon.start({ env: { NANOCLAW_API_TOKEN: 'an-api-token-from-the-environment' } });
    expect(daemon.token).toBe('an-api-token-from-the-environment');
    expect(daemon.daemon.apiToken.file).toBeNull();
    expect((await daemon.api('GET', '/api/status')).status).toBe(200);
  });

  it('logs the page in once with the one-time link, and then only with the cookie', async () => {
    daemon = await TestDaemon.start();
    const link = daemon.daemon.createLoginLink();
    const first = await fetch(link, { redirect: 'manual' });
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/');
    const setCookie = first.headers.getSetCookie().join('\n');
    expect(setCookie).toMatch(/nanoclaw_session=[^;]+; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Strict/);
    const cookie = sessionCookieOf(first.headers);

    const again = await fetch(link, { redirect: 'manual' });
    expect(again.headers.get('location')).toBe('/?login=expired');
    expect(again.headers.getSetCookie()).toEqual([]);

    const status = await daemon.api('GET', '/api/status', { auth: false, headers: { cookie } });
    expect(status.status).toBe(200);
    const bogus = await daemon.api('GET', '/api/status', {
      auth: false,
      headers: { cookie: 'nanoclaw_session=forged' },
    });
    expect(bogus.status).toBe(401);
  });

  it('logs in with POST /api/session and the API token, and out again', async () => {
    daemon = await TestDaemon.start();
    const wrong = await daemon.api('POST', '/api/session', { auth: false, body: { token: 'nope' } });
    expect(wrong.status).toBe(401);
    const ok = await daemon.api('POST', '/api/session', {
      auth: false,
      body: { token: daemon.token },
      headers: { origin: daemon.origin },
    });
    expect(ok.status).toBe(200);
    const cookie = sessionCookieOf(ok.headers);
    expect(ok.text).not.toContain(daemon.token);

    const crossSite = await daemon.api('POST', '/api/session', {
      auth: false,
      body: { token: daemon.token },
      headers: { origin: 'http://evil.example' },
    });
    expect(crossSite.status).toBe(403);
    expect(crossSite.body.error.code).toBe('FORBIDDEN_ORIGIN');

    const out = await daemon.api('DELETE', '/api/session', {
      auth: false,
      headers: { cookie, origin: daemon.origin },
    });
    expect(out.status).toBe(200);
    expect((await daemon.api('GET', '/api/status', { auth: false, headers: { cookie } })).status).toBe(401);
  });

  it('requires our Origin on state changes made with the session cookie', async () => {
    nango = await FakeNangoServer.start();
    daemon = await TestDaemon.start({ nango });
    const login = await daemon.api('POST', '/api/session', { auth: false, body: { token: daemon.token } });
    const cookie = sessionCookieOf(login.headers);
    const body = { owner: 'main', provider: 'google-calendar' };

    const missing = await daemon.api('POST', '/api/connect-sessions', {
      auth: false,
      body,
      headers: { cookie },
    });
    expect(missing.status).toBe(403);
    expect(missing.body.error.code).toBe('FORBIDDEN_ORIGIN');
    const foreign = await daemon.api('POST', '/api/connect-sessions', {
      auth: false,
      body,
      headers: { cookie, origin: 'http://127.0.0.1.evil.example' },
    });
    expect(foreign.status).toBe(403);
    expect(nango.requestsTo('createConnectSession')).toHaveLength(0);

    const same = await daemon.api('POST', '/api/connect-sessions', {
      auth: false,
      body,
      headers: { cookie, origin: daemon.origin },
    });
    expect(same.status).toBe(200);
    // Reads need no Origin; the Bearer token needs none either.
    expect((await daemon.api('GET', '/api/status', { auth: false, headers: { cookie } })).status).toBe(200);
    expect((await daemon.api('POST', '/api/connect-sessions', { body })).status).toBe(200);
  });

  it('answers only for its own host names (no DNS rebinding)', async () => {
    daemon = await TestDaemon.start();
    const port = new URL(daemon.url).port;
    const rebound = await rawRequest(`${daemon.url}/api/status`, {
      headers: { host: `attacker.example:${port}`, authorization: `Bearer ${daemon.token}` },
    });
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body).error.code).toBe('FORBIDDEN_HOST');
    const local = await rawRequest(`${daemon.url}/api/status`, {
      headers: { host: `localhost:${port}`, authorization: `Bearer ${daemon.token}` },
    });
    expect(local.status).toBe(200);
  });
});

describe('API input', () => {
  it('limits body sizes: 64 KiB for the API, 256 KiB for webhooks', async () => {
    nango = await FakeNangoServer.start();
    daemon = await TestDaemon.start({ nango });
    const big = JSON.stringify({ owner: 'main', provider: 'google-calendar', pad: 'x'.repeat(70 * 1024) });
    const tooLarge = await daemon.api('POST', '/api/connect-sessions', { body: big });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.error.code).toBe('PAYLOAD_TOO_LARGE');

    const webhookBody = JSON.stringify({ type: 'sync', pad: 'x'.repeat(100 * 1024) });
    expect((await daemon.webhook(webhookBody)).status).toBe(200);
    const hugeWebhook = JSON.stringify({ type: 'sync', pad: 'x'.repeat(300 * 1024) });
    expect((await daemon.webhook(hugeWebhook)).status).toBe(413);
  });

  it('answers malformed JSON, wrong media types and invalid fields with stable codes and paths', async () => {
    nango = await FakeNangoServer.start();
    daemon = await TestDaemon.start({ nango });
    const malformed = await daemon.api('POST', '/api/connect-sessions', { body: '{"owner": "main",' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('INVALID_JSON');

    const text = await daemon.api('POST', '/api/connect-sessions', {
      body: 'owner=main',
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);
    expect(text.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');

    const badOwner = await daemon.api('POST', '/api/connect-sessions', {
      body: { owner: '../etc', provider: 'google-calendar' },
    });
    expect(badOwner.status).toBe(400);
    expect(badOwner.body.error).toEqual({
      code: 'INVALID_REQUEST',
      message: 'body.owner: expected an owner id: 1-64 letters, digits, "_", "." or "-"',
    });

    const extra = await daemon.api('POST', '/api/auth/complete', {
      body: { owner: 'main', provider: 'google-calendar', admin: true },
    });
    expect(extra.status).toBe(400);
    expect(extra.body.error.message).toMatch(/^body: .*admin/);

    const missing = await daemon.api('POST', '/api/connect-sessions', { body: { owner: 'main' } });
    expect(missing.body.error.message).toBe('body.provider: expected a provider name');

    const unknown = await daemon.api('POST', '/api/connect-sessions', {
      body: { owner: 'main', provider: 'nope' },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('UNKNOWN_PROVIDER');

    const badParam = await daemon.api('DELETE', '/api/connections/main/Not_A_Provider');
    expect(badParam.status).toBe(400);
    expect(badParam.body.error.message).toMatch(/^params\.provider: /);

    const noRoute = await daemon.api('GET', '/api/nothing-here');
    expect(noRoute.status).toBe(404);
    expect(noRoute.body.error.code).toBe('NOT_FOUND');
  });
});

describe('GET /api/status', () => {
  it('shows owners from config and folders with state and expiry, and never a token', async () => {
    nango = await FakeNangoServer.start();
    daemon = await TestDaemon.start({ nango, config: { owners: ['team'] } });
    const connection = nango.addConnection({ integration: 'google-calendar', endUserId: 'alice' });
    const synced = await daemon.runtime.tokenSync.sync('alice', 'google-calendar');
    expect(synced.state).toBe('refreshed');

    const status = await daemon.api('GET', '/api/status');
    expect(status.status).toBe(200);
    expect(status.body.owners.map((row: { owner: string }) => row.owner)).toEqual(['alice', 'main', 'team']);
    const alice = status.body.owners[0].providers[0];
    expect(alice).toMatchObject({
      provider: 'google-calendar',
      source: 'nango',
      state: 'fresh',
      usable: true,
      expiresAt: connection.expiresAt!.toISOString(),
      refresh: { nextRefreshAt: expect.any(String), failures: 0, lastError: null, running: false },
    });
    expect(status.body.owners[1].providers[0]).toMatchObject({ state: 'missing', usable: false });

    for (const secret of nango.secrets) {
      expect(status.text).not.toContain(secret);
      expect(daemon.transcript).not.toContain(secret);
    }
    expect(daemon.transcript).not.toContain(daemon.token);
  });

  it('serves the page with a strict content security policy', async () => {
    daemon = await TestDaemon.start();
    const page = await fetch(`${daemon.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(await page.text()).toContain('<dialog id="auth-dialog"');
    const script = await fetch(`${daemon.url}/assets/app.js`);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    const vendor = await fetch(`${daemon.url}/vendor/nango-frontend/index.js`);
    expect(vendor.status).toBe(200);
    expect(await vendor.text()).toContain('openConnectUI');
    expect((await fetch(`${daemon.url}/vendor/nango-frontend/..%2F..%2Fpackage.json`)).status).toBe(404);
    expect((await fetch(`${daemon.url}/assets/..%2Findex.html`)).status).toBe(404);
  });
});
