import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeHeadless, startTestOidcServer, type DemoOAuthServer } from '../../support/oidc-server.js';
import {
  EventStreamReader,
  HostProcess,
  newCluster,
  planHosts,
  type HostPlan,
} from '../../support/multi-host.js';
import { postgresForTests, type PostgresForTests } from '../../support/postgres.js';

/**
 * Three `nanoclaw serve` processes, each with its own data folder and port, on one PostgreSQL
 * database, against a real OAuth server that rotates refresh tokens and revokes the grant when an old
 * one is replayed.
 */
const postgres: PostgresForTests = await postgresForTests();
/** Short-lived tokens: half their life is the refresh margin, so a token is "expiring" after 5 s. */
const ACCESS_TOKEN_TTL_SECONDS = 10;
/** Each token request is held this long, so concurrent refreshes would overlap at the provider. */
const TOKEN_ENDPOINT_DELAY_MS = 300;

let root: string;
let oauth: DemoOAuthServer;
let plans: HostPlan[];
const hosts: HostProcess[] = [];

beforeAll(async () => {
  if (!postgres.available) return;
  root = await mkdtemp(path.join(tmpdir(), 'nanoclaw-multi-host-'));
  plans = await planHosts(root, 3);
  oauth = await startTestOidcServer({
    redirectUris: plans.map((plan) => plan.callbackUrl),
    accessTokenTtlSeconds: ACCESS_TOKEN_TTL_SECONDS,
    tokenEndpointDelayMs: TOKEN_ENDPOINT_DELAY_MS,
  });
  const cluster = newCluster(postgres.url);
  hosts.push(...(await Promise.all(plans.map((plan) => HostProcess.start(plan, cluster, oauth)))));
}, 120_000);

afterAll(async () => {
  await Promise.all(hosts.map((host) => host.stop()));
  await oauth?.close();
  if (postgres.available) await postgres.drop();
  if (root) await rm(root, { recursive: true, force: true });
}, 60_000);

const refreshes = () => oauth.tokenRequests.filter((request) => request.grantType === 'refresh_token');

describe.skipIf(!postgres.available)('three hosts on one PostgreSQL', () => {
  it('completes a sign-in started on host A through the callback sent to host B', async () => {
    const [a, b, c] = hosts as [HostProcess, HostProcess, HostProcess];
    const { location, cookie } = await a.startAuthorization('alice');
    // The PKCE verifier reaches PostgreSQL sealed with the hosts' key, never as it is.
    const started = new URL(location);
    const db = new pg.Client({ connectionString: postgres.available ? postgres.url : '' });
    await db.connect();
    const { rows } = await db
      .query<{ code_verifier: string | null }>(
        'SELECT code_verifier FROM nanoclaw_pending_authorizations WHERE state = $1',
        [started.searchParams.get('state')],
      )
      .finally(() => db.end());
    const stored = rows[0]?.code_verifier ?? '';
    expect(/^v1\./.test(stored)).toBe(true);
    expect(createHash('sha256').update(stored).digest('base64url')).not.toBe(
      started.searchParams.get('code_challenge'),
    );
    const callback = await authorizeHeadless(location, { answer: 'allow', callbackUrl: a.plan.callbackUrl });
    // The load balancer sends the browser's callback to another host.
    const atB = new URL(`${callback.pathname}${callback.search}`, b.url);
    const answer = await fetch(atB, { headers: { cookie } });
    expect(answer.status).toBe(200);
    expect(await b.accessToken('alice')).toMatch(/.+/);
    // The state is spent: the same callback on host C is refused.
    const replay = await fetch(new URL(`${callback.pathname}${callback.search}`, c.url), {
      headers: { cookie },
    });
    expect(replay.status).toBe(400);
    // The grant is shared: C serves alice at once, from the store, without asking the provider.
    const before = oauth.tokenRequests.length;
    expect((await c.launch('alice')).status).toBe(200);
    expect(await c.accessToken('alice')).toBe(await b.accessToken('alice'));
    expect(oauth.tokenRequests.length).toBe(before);
  });

  it('refreshes an expiring grant once for many launches on all hosts, and every host gets the new token', async () => {
    const [, b] = hosts as [HostProcess, HostProcess, HostProcess];
    const first = await b.accessToken('alice');
    expect(first).not.toBeNull();
    const refreshesBefore = refreshes().length;
    // Into the second half of the token's life: every launch now wants a new one.
    await new Promise((resolve) => setTimeout(resolve, (ACCESS_TOKEN_TTL_SECONDS / 2) * 1000 + 700));
    const launches = await Promise.all(
      hosts.flatMap((host) => Array.from({ length: 8 }, () => host.launch('alice'))),
    );
    expect(launches.map((launch) => launch.status)).toEqual(launches.map(() => 200));
    for (const launch of launches) expect(launch.body.needsAuth).toEqual([]);
    expect(refreshes().length - refreshesBefore).toBe(1);
    expect(oauth.tokenRequests.filter((request) => request.error === 'invalid_grant')).toEqual([]);
    const tokens = await Promise.all(hosts.map((host) => host.accessToken('alice')));
    expect(tokens[0]).not.toBe(first);
    expect(new Set(tokens).size).toBe(1);
  });

  it('logs a page in on one host with a link printed by another, and the session works on all', async () => {
    const [a, b, c] = hosts as [HostProcess, HostProcess, HostProcess];
    const link = (await (await a.api('/api/login-links', { method: 'POST', body: '{}' })).json()) as {
      url: string;
    };
    const atB = new URL(link.url);
    const login = await fetch(new URL(`${atB.pathname}${atB.search}`, b.url), { redirect: 'manual' });
    expect(login.status).toBe(303);
    const session = login.headers
      .getSetCookie()
      .find((line) => line.startsWith('nanoclaw_session='))
      ?.split(';')[0];
    expect(session).toBeDefined();
    await expect
      .poll(async () => (await fetch(`${c.url}/api/status`, { headers: { cookie: session! } })).status)
      .toBe(200);
    // The link is spent everywhere.
    const again = await fetch(new URL(`${atB.pathname}${atB.search}`, c.url), { redirect: 'manual' });
    expect(again.headers.get('location')).toBe('/?login=expired');
  });

  it('carries an event raised on one host to the page streams of the others', async () => {
    const [a, b, c] = hosts as [HostProcess, HostProcess, HostProcess];
    const streams = await Promise.all([EventStreamReader.open(b), EventStreamReader.open(c)]);
    try {
      const prompt = await a.api('/api/prompts', {
        method: 'POST',
        body: JSON.stringify({ owner: 'bob', provider: 'demo' }),
      });
      expect(prompt.status).toBeLessThan(300);
      for (const stream of streams) {
        await expect
          .poll(() => stream.events.find((event) => event.type === 'auth_required')?.data, {
            timeout: 10_000,
          })
          .toMatchObject({ type: 'auth_required', owner: 'bob', provider: 'demo' });
      }
      // A page that reconnects to B gets what it missed, events raised on A included.
      const seen = streams[0].events.find((event) => event.type === 'auth_required')!;
      expect(seen.id).not.toBeNull();
      await a.api('/api/prompts', {
        method: 'POST',
        body: JSON.stringify({ owner: 'erin', provider: 'demo' }),
      });
      await expect
        .poll(() => streams[0].events.some((event) => event.data.owner === 'erin'), { timeout: 10_000 })
        .toBe(true);
      streams[0].close();
      const again = await EventStreamReader.open(b, seen.id!);
      try {
        await expect
          .poll(() =>
            again.events.filter((event) => event.type === 'auth_required').map((event) => event.data.owner),
          )
          .toEqual(['erin']);
      } finally {
        again.close();
      }
    } finally {
      for (const stream of streams) stream.close();
    }
  });
});
