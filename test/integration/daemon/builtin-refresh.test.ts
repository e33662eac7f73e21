import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_WEB_CLIENT_ID } from '../../../src/demo/demo-constants.js';
import { BuiltinDaemon } from '../../support/builtin-daemon.js';
import { waitFor } from '../web/daemon-harness.js';

/** Access tokens from the demo server live this long... */
const ACCESS_TOKEN_TTL_SECONDS = 6;
/** ...and the daemon refreshes this long before they expire: most of their life. */
const REFRESH_MARGIN_SECONDS = 5;

interface TokenFileJson {
  provider: string;
  access_token: string;
  expires_at: string | null;
  refresh_token?: string;
}

/**
 * The daemon's refresher keeps a built-in grant fresh on its own: a real daemon, the real demo
 * OAuth server issuing short-lived access tokens, and nothing but the refresher's timer after the
 * user connected.
 */
describe("the daemon's refresher and a built-in grant", () => {
  let stack: BuiltinDaemon;

  beforeAll(async () => {
    stack = await BuiltinDaemon.start({
      accessTokenTtlSeconds: ACCESS_TOKEN_TTL_SECONDS,
      config: { refresh: { margin: REFRESH_MARGIN_SECONDS } },
    });
  });

  afterAll(async () => {
    const transcript = stack?.transcript ?? '';
    await stack?.close();
    expect(transcript).not.toContain(stack.oauth.webClient.clientSecret);
  });

  const readTokenFile = async (owner: string) =>
    JSON.parse(await readFile(stack.tokenFile(owner), 'utf8')) as TokenFileJson;

  it('replaces the access token on its own, with a refresh token grant and no new sign-in', async () => {
    const connected = await stack.connect('alice');
    expect(connected.status).toBe(200);
    const first = await readTokenFile('alice');
    expect(stack.oauth.tokenRequests).toEqual([
      expect.objectContaining({ grantType: 'authorization_code', clientId: DEMO_WEB_CLIENT_ID, status: 200 }),
    ]);
    // The refresher took the new token on; from here on nothing but its timer calls the source.
    expect(stack.daemon.refresher.describe('alice', 'demo')).toMatchObject({
      nextRefreshAt: expect.any(String),
      failures: 0,
    });

    const second = await waitFor(
      async () => {
        const current = await readTokenFile('alice');
        return current.access_token !== first.access_token ? current : undefined;
      },
      12_000,
      'a refreshed access token in the token file',
    );

    expect(stack.oauth.tokenRequests).toContainEqual(
      expect.objectContaining({ grantType: 'refresh_token', clientId: DEMO_WEB_CLIENT_ID, status: 200 }),
    );
    expect(stack.oauth.tokenRequests.filter((request) => request.status !== 200)).toEqual([]);
    // No new sign-in: the first token request was the only code exchange.
    expect(
      stack.oauth.tokenRequests.filter((request) => request.grantType === 'authorization_code'),
    ).toHaveLength(1);
    expect(second.provider).toBe('demo');
    expect(Date.parse(second.expires_at ?? '')).toBeGreaterThan(Date.parse(first.expires_at ?? ''));
    // The refresh token stays with the daemon.
    expect(second).not.toHaveProperty('refresh_token');

    const synced = stack.events.filter(
      (event) => event.type === 'token_synced' && event.owner === 'alice' && event.provider === 'demo',
    );
    expect(synced.length).toBeGreaterThanOrEqual(2);
    expect(
      stack.events.filter((event) => event.type === 'error' || event.type === 'token_needs_auth'),
    ).toEqual([]);
    expect(stack.transcript).not.toContain(first.access_token);
    expect(stack.transcript).not.toContain(second.access_token);
  });
});
