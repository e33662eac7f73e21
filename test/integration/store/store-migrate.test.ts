import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialStore } from '../../../src/sources/builtin/credential-store.js';
import type { StoredGrant } from '../../../src/sources/builtin/stored-grant.js';
import { PostgresStore } from '../../../src/store/postgres/postgres-store.js';
import { runCliInProcess } from '../../support/cli.js';
import { postgresForTests, type PostgresForTests } from '../../support/postgres.js';
import { recordSecret } from '../../support/secret-scan.js';

const postgres: PostgresForTests = await postgresForTests();
const KEY = randomBytes(32).toString('base64');
const ACCESS_TOKEN = `access-${randomBytes(12).toString('hex')}`;
const REFRESH_TOKEN = `refresh-${randomBytes(12).toString('hex')}`;
recordSecret(KEY);
recordSecret(ACCESS_TOKEN);
recordSecret(REFRESH_TOKEN);

let dir: string;
let dataDir: string;
let target: PostgresStore;

function grant(owner: string, generation: number): StoredGrant {
  const now = new Date('2026-01-01T00:00:00Z');
  return {
    owner,
    provider: 'demo',
    status: 'active',
    accessToken: ACCESS_TOKEN,
    refreshToken: REFRESH_TOKEN,
    tokenType: 'Bearer',
    expiresAt: new Date('2030-01-01T00:00:00Z'),
    scopes: ['openid'],
    authorizedAt: now,
    obtainedAt: now,
    lastRefreshedAt: null,
    generation,
    needsAuth: null,
  };
}

beforeAll(async () => {
  if (!postgres.available) return;
  dir = await mkdtemp(path.join(tmpdir(), 'nanoclaw-store-migrate-'));
  dataDir = path.join(dir, 'data');
  const files = CredentialStore.inDataDir(dataDir, KEY);
  await files.write(grant('alice', 3));
  await files.write(grant('bob', 2));
  await writeFile(
    path.join(dataDir, 'nango-connections.json'),
    JSON.stringify({ alice: { github: 'conn-alice' }, bob: { github: 'conn-bob' } }),
  );
  target = new PostgresStore({ url: postgres.url });
});

afterAll(async () => {
  await target?.close();
  if (postgres.available) await postgres.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const migrate = () =>
  runCliInProcess(['store', 'migrate', '--to', 'postgres', '--json'], {
    cwd: dir,
    env: { NANOCLAW_DATA_DIR: dataDir, NANOCLAW_DATABASE_URL: postgres.available ? postgres.url : '' },
  });

describe.skipIf(!postgres.available)('nanoclaw store migrate --to postgres', () => {
  it('copies grants (sealed) and the connection map, repeats safely, and keeps newer rows', async () => {
    // Bob's grant was refreshed on a PostgreSQL host already: generation 5 beats the file's 2.
    await target.ready();
    const newer = (
      await readFile(CredentialStore.inDataDir(dataDir, KEY).grantFile('bob', 'demo'), 'utf8')
    ).replace('"generation": 2', '"generation": 5');
    await target.grants.write({ owner: 'bob', provider: 'demo', text: newer, generation: 5 });
    await target.connections.set('bob', 'github', 'conn-bob-later');

    const first = await migrate();
    expect(first.exitCode).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({
      grants: { written: ['alice/demo'], unchanged: [], keptNewer: ['bob/demo'], unreadable: [] },
      connections: { written: ['alice/github'], keptNewer: ['bob/github'] },
    });
    expect(first.stdout + first.stderr).not.toContain(
      new URL(postgres.available ? postgres.url : 'x:').password,
    );

    // A host on PostgreSQL with the same key reads alice's grant as it was: nobody connects again.
    const shared = new CredentialStore({
      dir: path.join(dir, 'other-host'),
      encryptionKey: KEY,
      records: target.grants,
    });
    expect(await shared.read('alice', 'demo')).toMatchObject({
      accessToken: ACCESS_TOKEN,
      refreshToken: REFRESH_TOKEN,
      generation: 3,
    });
    expect((await shared.read('bob', 'demo'))?.generation).toBe(5);
    expect(await target.connections.get('alice', 'github')).toBe('conn-alice');
    expect(await target.connections.get('bob', 'github')).toBe('conn-bob-later');
    // Sealed in PostgreSQL: the tokens are not there in clear.
    const { rows } = await (
      await target.db.pools()
    ).pool.query<{ record: string }>('SELECT record FROM nanoclaw_grants');
    expect(rows.map((row) => row.record).join('\n')).not.toContain(ACCESS_TOKEN);

    const again = await migrate();
    expect(again.exitCode).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      grants: { written: [], unchanged: ['alice/demo'], keptNewer: ['bob/demo'] },
      connections: { written: [], unchanged: ['alice/github'], keptNewer: ['bob/github'] },
    });
  });

  it('keeps what PostgreSQL holds once it holds it: a disconnect or a reconnect is never undone by a second run', async () => {
    const folder = path.join(dir, 'second-host');
    const folderData = path.join(folder, 'data');
    const files = CredentialStore.inDataDir(folderData, KEY);
    await files.write({ ...grant('carol', 3) });
    await files.write({ ...grant('dave', 4) });
    await writeFile(
      path.join(folderData, 'nango-connections.json'),
      JSON.stringify({ carol: { github: 'conn-carol' }, dave: { github: 'conn-dave' } }),
    );
    const run = (...extra: string[]) =>
      runCliInProcess(['store', 'migrate', '--to', 'postgres', '--json', ...extra], {
        cwd: folder,
        env: { NANOCLAW_DATA_DIR: folderData, NANOCLAW_DATABASE_URL: postgres.available ? postgres.url : '' },
      });

    const first = await run();
    expect(first.exitCode).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({
      previousRun: null,
      grants: { written: ['carol/demo', 'dave/demo'] },
      connections: { written: ['carol/github', 'dave/github'] },
    });

    // On a PostgreSQL host, carol disconnects; dave disconnects and connects again, so his grant's
    // generation starts over at 1 (below the file's 4) and Nango gives him a new connection.
    await target.grants.delete('carol', 'demo');
    await target.connections.delete('carol', 'github');
    await target.grants.delete('dave', 'demo');
    const shared = new CredentialStore({
      dir: path.join(folder, 'pg-host'),
      encryptionKey: KEY,
      records: target.grants,
    });
    await shared.write({ ...grant('dave', 1), accessToken: `${ACCESS_TOKEN}-again` });
    await target.connections.set('dave', 'github', 'conn-dave-again');

    const second = await run();
    expect(second.exitCode).toBe(0);
    const report = JSON.parse(second.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({
      grants: { written: [], unchanged: [], keptNewer: ['dave/demo'], skippedDeleted: ['carol/demo'] },
      connections: {
        written: [],
        unchanged: [],
        keptNewer: ['dave/github'],
        skippedDeleted: ['carol/github'],
      },
    });
    expect(typeof report.previousRun).toBe('string');
    expect(await target.grants.read('carol', 'demo')).toBeNull();
    expect(await target.connections.get('carol', 'github')).toBeNull();
    expect(await shared.read('dave', 'demo')).toMatchObject({
      generation: 1,
      accessToken: `${ACCESS_TOKEN}-again`,
    });
    expect(await target.connections.get('dave', 'github')).toBe('conn-dave-again');

    // --force brings back what was deleted since, and still never replaces a live row.
    const forced = await run('--force');
    expect(forced.exitCode).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({
      grants: { written: ['carol/demo'], keptNewer: ['dave/demo'], skippedDeleted: [] },
      connections: { written: ['carol/github'], keptNewer: ['dave/github'], skippedDeleted: [] },
    });
    expect((await shared.read('carol', 'demo'))?.generation).toBe(3);
    expect((await shared.read('dave', 'demo'))?.generation).toBe(1);
  });

  it('refuses to run without a PostgreSQL URL, or to another kind of store', async () => {
    const none = await runCliInProcess(['store', 'migrate', '--to', 'postgres'], {
      cwd: dir,
      env: { NANOCLAW_DATA_DIR: dataDir },
    });
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain('NANOCLAW_DATABASE_URL');
    const other = await migrate().then(() =>
      runCliInProcess(['store', 'migrate', '--to', 'files'], {
        cwd: dir,
        env: { NANOCLAW_DATA_DIR: dataDir, NANOCLAW_DATABASE_URL: postgres.available ? postgres.url : '' },
      }),
    );
    expect(other.exitCode).toBe(2);
    expect(other.stderr).toContain('--to: expected "postgres"');
  });
});
