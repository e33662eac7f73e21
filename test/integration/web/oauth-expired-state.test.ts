import { access } from 'node:fs/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PENDING_AUTHORIZATION_TTL_MS } from '../../../src/sources/builtin/pending-authorizations.js';
import { BuiltinDaemon } from '../../support/builtin-daemon.js';

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

/**
 * A `state` is good for a limited time. The daemon's built-in source reads a clock this test moves
 * forward between the provider's redirect and the callback, as if the user had left the consent page
 * open; everything else (demo OAuth server, HTTP routes, token folder) is real.
 */
describe('a built-in OAuth callback whose state has expired', () => {
  let stack: BuiltinDaemon;
  let skewMs = 0;

  beforeAll(async () => {
    stack = await BuiltinDaemon.start({ now: () => Date.now() + skewMs });
  });

  afterAll(async () => {
    const transcript = stack?.transcript ?? '';
    await stack?.close();
    expect(transcript).not.toContain(stack.oauth.webClient.clientSecret);
  });

  beforeEach(() => {
    skewMs = 0;
  });

  it('connects when the callback comes just inside the lifetime of the state', async () => {
    const { location, cookie } = await stack.startAuthorization('carol');
    const callback = await stack.consent(location);
    skewMs = PENDING_AUTHORIZATION_TTL_MS - 5_000;

    const response = await fetch(callback, { headers: { cookie } });

    expect(response.status).toBe(200);
    expect(await response.text()).toContain('demo is connected');
    expect(await exists(stack.tokenFile('carol'))).toBe(true);
  });

  it('answers a clear 400 page, emits OAUTH_STATE_INVALID and stores nothing', async () => {
    const { location, cookie } = await stack.startAuthorization('alice');
    const callback = await stack.consent(location);
    // The provider did its part: the redirect carries a real code for this state.
    expect(callback.searchParams.get('code')).toBeTruthy();
    expect(callback.searchParams.get('state')).toBeTruthy();
    const exchangesBefore = stack.oauth.tokenRequests.length;
    skewMs = PENDING_AUTHORIZATION_TTL_MS + 1_000;

    const response = await fetch(callback, { headers: { cookie } });

    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const html = await response.text();
    expect(html).toContain('Could not connect demo');
    expect(html).toContain('this authorization of demo has expired (it is good for 10 minutes): start again');
    // The binding cookie is cleared with the page.
    expect(response.headers.getSetCookie()[0]).toMatch(/^nanoclaw_oauth_binding=; Max-Age=0/);

    expect(stack.events.filter((event) => event.type === 'error')).toEqual([
      expect.objectContaining({
        type: 'error',
        code: 'OAUTH_STATE_INVALID',
        provider: 'demo',
        owner: 'alice',
        message: expect.stringContaining('has expired'),
      }),
    ]);
    // Nothing stored, nothing exchanged: the code was never sent to the token endpoint.
    expect(await exists(stack.tokenFile('alice'))).toBe(false);
    expect(await stack.source.store.read('alice', 'demo')).toBeNull();
    expect(stack.oauth.tokenRequests.slice(exchangesBefore)).toEqual([]);
    expect(stack.events.some((event) => event.type === 'token_synced' && event.owner === 'alice')).toBe(
      false,
    );

    // The expired state is gone for good: the same callback on time again is refused as unknown.
    skewMs = 0;
    const replay = await fetch(callback, { headers: { cookie } });
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('is unknown or was already used');
    expect(await exists(stack.tokenFile('alice'))).toBe(false);
    expect(stack.oauth.tokenRequests.slice(exchangesBefore)).toEqual([]);
  });
});
