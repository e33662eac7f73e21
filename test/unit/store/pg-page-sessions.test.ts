import { describe, expect, it } from 'vitest';
import { PgPageSessions } from '../../../src/store/postgres/pg-page-sessions.js';
import type { PostgresDatabase } from '../../../src/store/postgres/postgres-database.js';
import { StoreError } from '../../../src/store/store-errors.js';

/** A stand-in for PostgreSQL's two tables that can be taken down and brought back. */
class FakeDatabase {
  down = false;
  readonly tables = new Map<string, Map<string, number>>([
    ['nanoclaw_page_sessions', new Map()],
    ['nanoclaw_login_codes', new Map()],
  ]);

  query(text: string, values: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }> {
    if (this.down) {
      return Promise.reject(new StoreError('STORE_UNAVAILABLE', 'PostgreSQL cannot be used right now'));
    }
    const table = this.tables.get(/(nanoclaw_\w+)/.exec(text)![1]!)!;
    const [first, second] = values as [string | number, number];
    if (text.startsWith('INSERT')) {
      if (!table.has(first as string)) table.set(first as string, second);
      return Promise.resolve({ rows: [] });
    }
    if (text.startsWith('DELETE') && text.includes('expires_at <=')) {
      for (const [digest, expiresAt] of table) if (expiresAt <= (first as number)) table.delete(digest);
      return Promise.resolve({ rows: [] });
    }
    if (text.startsWith('DELETE')) {
      const expiresAt = table.get(first as string);
      table.delete(first as string);
      return Promise.resolve({ rows: expiresAt === undefined ? [] : [{ expires_at: String(expiresAt) }] });
    }
    const expiresAt = table.get(first as string);
    return Promise.resolve({
      rows: expiresAt !== undefined && expiresAt > second ? [{ '?column?': 1 }] : [],
    });
  }
}

function hosts() {
  const db = new FakeDatabase();
  const errors: unknown[] = [];
  const onError = (error: unknown) => errors.push(error);
  const a = new PgPageSessions(db as unknown as PostgresDatabase, { onError });
  const b = new PgPageSessions(db as unknown as PostgresDatabase, { onError });
  return { db, a, b, errors };
}

describe('PgPageSessions with PostgreSQL out of reach', () => {
  it('a login link printed during an outage works once on the host that printed it', async () => {
    const { db, a, b } = hosts();
    db.down = true;
    const code = a.createLoginCode();
    await a.flush();
    expect(await a.redeemLoginCode(code)).toBe(true);
    expect(await a.redeemLoginCode(code)).toBe(false);
    expect(await b.redeemLoginCode(code)).toBe(false);
    await Promise.all([a.close(), b.close()]);
  });

  it('records what it made during an outage once PostgreSQL answers again, and every host sees it', async () => {
    const { db, a, b, errors } = hosts();
    db.down = true;
    const code = a.createLoginCode();
    const session = a.createSession();
    await a.flush();
    expect(errors.length).toBeGreaterThan(0);
    expect(db.tables.get('nanoclaw_login_codes')!.size).toBe(0);

    db.down = false;
    await a.flush();
    expect(await b.isValidSession(session)).toBe(true);
    expect(await b.redeemLoginCode(code)).toBe(true);
    // Spent once across hosts: the host that printed it does not take it again.
    expect(await a.redeemLoginCode(code)).toBe(false);
    await Promise.all([a.close(), b.close()]);
  });

  it('a code spent during an outage stays spent for every host when PostgreSQL is back', async () => {
    const { db, a, b } = hosts();
    const code = a.createLoginCode();
    const session = a.createSession();
    await a.flush();
    db.down = true;
    expect(await a.redeemLoginCode(code)).toBe(true);
    await a.endSession(session);
    db.down = false;
    await a.flush();
    expect(await b.redeemLoginCode(code)).toBe(false);
    expect(await b.isValidSession(session)).toBe(false);
    await Promise.all([a.close(), b.close()]);
  });

  it('a code spent through PostgreSQL is spent on this host too', async () => {
    const { db, a } = hosts();
    const code = a.createLoginCode();
    await a.flush();
    expect(await a.redeemLoginCode(code)).toBe(true);
    db.down = true;
    expect(await a.redeemLoginCode(code)).toBe(false);
    await a.close();
  });
});
