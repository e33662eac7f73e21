import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { recordSecret } from './secret-scan.js';

/** Where scripts/start-postgres.sh leaves the URL of the server it started. */
export const POSTGRES_URL_FILE = '/var/lib/nanoclaw-postgres/url';
/** Where earlier versions of the script left it; read only while the new file is not there yet. */
const EARLIER_POSTGRES_URL_FILE = '/var/tmp/nanoclaw-postgres/url';

/** The test server's URL from the file scripts/start-postgres.sh writes; null when there is none. */
export async function postgresUrlFromFile(): Promise<string | null> {
  for (const file of [POSTGRES_URL_FILE, EARLIER_POSTGRES_URL_FILE]) {
    try {
      return (await readFile(file, 'utf8')).trim();
    } catch {
      // Not there: the next one, or none.
    }
  }
  return null;
}

export type PostgresForTests =
  | {
      available: true;
      /** A fresh database of this test file's own (so files run in parallel), and its URL. */
      url: string;
      database: string;
      /** The server's admin URL (to stop connections, drop the database). */
      adminUrl: string;
      drop(): Promise<void>;
    }
  | { available: false; reason: string };

async function serverUrl(): Promise<string> {
  const fromEnv = process.env.NANOCLAW_TEST_DATABASE_URL;
  if (fromEnv) return fromEnv;
  const fromFile = await postgresUrlFromFile();
  if (fromFile === null) throw new Error(`no NANOCLAW_TEST_DATABASE_URL and no ${POSTGRES_URL_FILE}`);
  return fromFile;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.href;
}

/**
 * A database of its own on the test server (scripts/start-postgres.sh). In CI (`CI` set) a missing
 * server throws, so the suite fails instead of quietly skipping; locally the tests are skipped with
 * a notice.
 */
export async function postgresForTests(): Promise<PostgresForTests> {
  let adminUrl: string;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  const database = `nanoclaw_test_${randomBytes(6).toString('hex')}`;
  try {
    adminUrl = await serverUrl();
    recordSecret(new URL(adminUrl).password);
    await admin(`CREATE DATABASE ${database}`);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (process.env.CI) {
      throw new Error(
        `PostgreSQL is required for the multi-host tests in CI and is not there: ${reason}\n` +
          'Start it with scripts/start-postgres.sh (or run .ci/run).',
      );
    }
    // eslint-disable-next-line no-console
    console.warn(
      `\n!!! SKIPPING the PostgreSQL tests: ${reason}\n!!! Start a server with scripts/start-postgres.sh.\n`,
    );
    return { available: false, reason };
  }
  return {
    available: true,
    url: withDatabase(adminUrl, database),
    database,
    adminUrl,
    drop: () => admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`),
  };
}
