import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeHeadless, startTestOidcServer, type DemoOAuthServer } from '../../support/oidc-server.js';
import { HostProcess, newCluster, planHosts } from '../../support/multi-host.js';
import { postgresForTests, type PostgresForTests } from '../../support/postgres.js';

/**
 * `kill -9` of a host while its refresh request is at the provider: the grant survives (the lock ends
 * with the dead host's connection, the others carry on with the refresh token it never got to spend).
 */
const postgres: PostgresForTests = await postgresForTests();
const ACCESS_TOKEN_TTL_SECONDS = 10;
/** Long enough to kill the host while its request is held at the provider. */
const TOKEN_ENDPOINT_DELAY_MS = 2_000;
/** `builtin.refreshLease`: longer than the held request, far shorter than the default 30 s. */
const REFRESH_LEASE_SECONDS = 4;

let root: string;
let oauth: DemoOAuthServer;
const hosts: HostProcess[] = [];

beforeAll(async () => {
  if (!postgres.available) return;
  root = await mkdtemp(path.join(tmpdir(), 'nanoclaw-host-killed-'));
  const plans = await planHosts(root, 3);
  oauth = await startTestOidcServer({
    redirectUris: plans.map((plan) => plan.callbackUrl),
    accessTokenTtlSeconds: ACCESS_TOKEN_TTL_SECONDS,
    tokenEndpointDelayMs: TOKEN_ENDPOINT_DELAY_MS,
  });
  const cluster = newCluster(postgres.url);
  hosts.push(
    ...(await Promise.all(
      plans.map((plan) =>
        HostProcess.start(plan, cluster, oauth, { builtin: { refreshLease: REFRESH_LEASE_SECONDS } }),
      ),
    )),
  );
}, 120_000);

afterAll(async () => {
  await Promise.all(hosts.map((host) => host.stop()));
  await oauth?.close();
  if (postgres.available) await postgres.drop();
  if (root) await rm(root, { recursive: true, force: true });
}, 60_000);

async function refreshSentAt(owner: string): Promise<string | null> {
  if (!postgres.available) throw new Error('no PostgreSQL');
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ record: string }>(
      "SELECT record FROM nanoclaw_grants WHERE owner = $1 AND provider = 'demo'",
      [owner],
    );
    return rows[0]
      ? ((JSON.parse(rows[0].record) as { refresh_sent_at: string | null }).refresh_sent_at ?? null)
      : null;
  } finally {
    await client.end();
  }
}

describe.skipIf(!postgres.available)('a host killed in the middle of a refresh', () => {
  it('loses no grant: the lock goes with its connection and another host refreshes', async () => {
    const [a, b, c] = hosts as [HostProcess, HostProcess, HostProcess];
    const { location, cookie } = await a.startAuthorization('carol');
    const callback = await authorizeHeadless(location, { answer: 'allow', callbackUrl: a.plan.callbackUrl });
    expect((await fetch(callback, { headers: { cookie } })).status).toBe(200);
    const first = await a.accessToken('carol');
    expect(first).not.toBeNull();

    await new Promise((resolve) => setTimeout(resolve, (ACCESS_TOKEN_TTL_SECONDS / 2) * 1000 + 700));
    const dying = a.launch('carol').catch(() => null);
    // The "refresh sent" mark is committed before the request leaves: A is now waiting for the answer.
    await expect.poll(() => refreshSentAt('carol'), { timeout: 10_000, interval: 20 }).not.toBeNull();
    const sentAt = Date.parse((await refreshSentAt('carol'))!);
    a.kill('SIGKILL');
    expect((await a.exited).signal).toBe('SIGKILL');
    await dying;

    // While A's refresh may still be answered (its lease), no other host sends the same refresh token.
    const refreshes = () =>
      oauth.tokenRequests.filter((request) => request.grantType === 'refresh_token').length;
    const before = refreshes();
    await b.launch('carol');
    expect(Date.now()).toBeLessThan(sentAt + REFRESH_LEASE_SECONDS * 1000);
    expect(refreshes()).toBe(before);
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, sentAt + REFRESH_LEASE_SECONDS * 1000 + 200 - Date.now())),
    );

    const launches = await Promise.all([b.launch('carol'), c.launch('carol'), b.launch('carol')]);
    expect(launches.map((launch) => launch.status)).toEqual([200, 200, 200]);
    for (const launch of launches) {
      expect(launch.body.needsAuth).toEqual([]);
      expect(launch.body.tokens).toMatchObject([{ provider: 'demo', usable: true }]);
    }
    const tokens = await Promise.all([b.accessToken('carol'), c.accessToken('carol')]);
    expect(tokens[0]).not.toBeNull();
    expect(tokens[0]).not.toBe(first);
    expect(tokens[1]).toBe(tokens[0]);
    expect(oauth.tokenRequests.filter((request) => request.error === 'invalid_grant')).toEqual([]);
    expect(await refreshSentAt('carol')).toBeNull();
  });
});
