import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestDaemon } from './daemon-harness.js';

let daemon: TestDaemon;

beforeEach(async () => {
  daemon = await TestDaemon.start();
});

afterEach(async () => {
  await daemon.close();
});

/** Opens a login link as a browser would, without following the redirect. */
async function open(link: string) {
  const response = await fetch(link, { redirect: 'manual' });
  return {
    status: response.status,
    location: response.headers.get('location'),
    session: response.headers.getSetCookie().find((cookie) => cookie.startsWith('nanoclaw_session=')),
  };
}

describe('login links', () => {
  it('POST /api/login-links makes a one-time link that logs in and goes on to a local path', async () => {
    const made = await daemon.api('POST', '/api/login-links', {
      body: { next: '/auth/oauth/demo/start?owner=alice' },
    });
    expect(made.status).toBe(201);
    const link = new URL(made.body.url);
    expect(link.origin).toBe(daemon.url);

    const first = await open(link.href);
    expect(first.status).toBe(303);
    expect(first.location).toBe('/auth/oauth/demo/start?owner=alice');
    expect(first.session).toBeDefined();

    // Spent: the same link again is refused.
    expect((await open(link.href)).location).toBe('/?login=expired');
  });

  it('needs the API token to make a link', async () => {
    expect((await daemon.api('POST', '/api/login-links', { body: {}, auth: false })).status).toBe(401);
  });

  it.each([
    ['another host', '//evil.example/x'],
    ['a backslash trick', '/\\evil.example'],
    ['an absolute URL', 'https://evil.example/'],
    ['a look-alike letter', '/\uff45vil'],
    ['a control character', '/\u0001x'],
    ['a space', '/a b'],
  ])('refuses to go on to %s, and does not spend the link', async (_what, next) => {
    const link = new URL(daemon.daemon.createLoginLink());
    const bad = new URL(link);
    bad.searchParams.set('next', next);
    const refused = await fetch(bad, { redirect: 'manual' });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('INVALID_REQUEST');
    // The code is still good for the page itself.
    expect((await open(link.href)).location).toBe('/');
  });
});
