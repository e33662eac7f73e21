import { describe, expect, it } from 'vitest';
import { describeDatabaseUrl, withoutPassword } from '../../../src/store/postgres/database-url.js';
import { PostgresDatabase } from '../../../src/store/postgres/postgres-database.js';
import { resolveConfig } from '../../../src/config/resolve-config.js';

const URL_WITH_PASSWORD = 'postgres://nanoclaw:s3cr%3At-pa55word@db.internal:5432/nanoclaw?sslmode=require';

describe('the database URL in messages', () => {
  it('names user, host, port and database, never the password', () => {
    expect(describeDatabaseUrl(URL_WITH_PASSWORD)).toBe('postgres://nanoclaw@db.internal:5432/nanoclaw');
    expect(describeDatabaseUrl('not a url')).not.toContain('not a url');
  });

  it('takes the password (and the whole string) out of a driver message', () => {
    const message = `cannot connect to ${URL_WITH_PASSWORD}: password s3cr:t-pa55word refused`;
    const clean = withoutPassword(message, URL_WITH_PASSWORD);
    expect(clean).not.toContain('s3cr:t-pa55word');
    expect(clean).toContain('postgres://nanoclaw@db.internal:5432/nanoclaw');
  });

  it('reports an unreachable server as STORE_UNAVAILABLE without the password', async () => {
    // Port 1 on loopback: nothing listens there.
    const db = new PostgresDatabase({
      url: 'postgres://nanoclaw:s3cr3t-pa55word@127.0.0.1:1/nanoclaw',
      connectTimeoutMs: 2_000,
    });
    try {
      const error = (await db.ready().catch((failure: unknown) => failure)) as Error & { code: string };
      expect(error.code).toBe('STORE_UNAVAILABLE');
      expect(error.message).toContain('postgres://nanoclaw@127.0.0.1:1/nanoclaw');
      expect(JSON.stringify(error) + error.message).not.toContain('s3cr3t-pa55word');
    } finally {
      await db.close();
    }
  });

  it('refuses a store.url that is no PostgreSQL URL, naming the setting and not the value', () => {
    const resolved = resolveConfig(
      {},
      { env: { NANOCLAW_DATABASE_URL: 'mysql://root:hunter2hunter2@db/x' }, cwd: '/tmp', configPath: null },
    );
    expect('errors' in resolved && resolved.errors).toEqual([
      'NANOCLAW_DATABASE_URL: expected a postgres:// or postgresql:// URL',
    ]);
    const ok = resolveConfig(
      { store: { url: URL_WITH_PASSWORD } },
      { env: {}, cwd: '/tmp', configPath: null },
    );
    expect('config' in ok && ok.config.store.url).toBe(URL_WITH_PASSWORD);
  });
});
