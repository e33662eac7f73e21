import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgGrantRecords } from '../../../src/store/postgres/pg-grant-records.js';
import { MAX_PREPARED_STATEMENTS, PostgresDatabase } from '../../../src/store/postgres/postgres-database.js';
import { PostgresStore } from '../../../src/store/postgres/postgres-store.js';
import { postgresForTests, type PostgresForTests } from '../../support/postgres.js';

const postgres: PostgresForTests = await postgresForTests();
const stores: PostgresStore[] = [];
const databases: PostgresDatabase[] = [];
const NEVER = new AbortController().signal;

function openStore(options: { lockTimeoutMs?: number; lockPoolSize?: number } = {}): PostgresStore {
  if (!postgres.available) throw new Error('no PostgreSQL');
  const store = new PostgresStore({ url: postgres.url, lockTimeoutMs: 2_000, ...options });
  stores.push(store);
  return store;
}

/** Ends, from another connection, the backends that hold a grant's advisory lock. */
async function terminateLockHolders(): Promise<number> {
  if (!postgres.available) throw new Error('no PostgreSQL');
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ ended: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ended FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    return rows.filter((row) => row.ended).length;
  } finally {
    await admin.end();
  }
}

/** Runs `action` with a server setting as the test database's default for new connections. */
async function withDatabaseSetting<T>(name: string, value: string, action: () => Promise<T>): Promise<T> {
  if (!postgres.available) throw new Error('no PostgreSQL');
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  try {
    await admin.query(`ALTER DATABASE ${postgres.database} SET ${name} = '${value}'`);
    return await action();
  } finally {
    await admin.query(`ALTER DATABASE ${postgres.database} RESET ${name}`);
    await admin.end();
  }
}

afterAll(async () => {
  await Promise.all([...stores, ...databases].map((each) => each.close()));
  if (postgres.available) await postgres.drop();
});

describe.skipIf(!postgres.available)('the PostgreSQL grant lock', () => {
  let a: PostgresStore;
  beforeAll(async () => {
    a = openStore();
    await a.ready();
  });

  it('survives its lock connection ending in the middle of the work, and says the lock was lost', async () => {
    let finish!: () => void;
    const working = new Promise<void>((resolve) => (finish = resolve));
    let started!: () => void;
    const holding = new Promise<void>((resolve) => (started = resolve));
    const outcome = a.grants
      .withLock('alice', 'demo', NEVER, async () => {
        started();
        await working;
        return 'done';
      })
      .then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
    await holding;
    expect(await terminateLockHolders()).toBe(1);
    // The work goes on for a while after the connection is gone (a provider answer on its way).
    await new Promise((resolve) => setTimeout(resolve, 300));
    finish();
    const result = await outcome;
    expect(result).toMatchObject({ error: { code: 'STORE_UNAVAILABLE' } });
    expect(String((result as { error: Error }).error.message)).toMatch(/lock .*lost/);
    // The broken connection was dropped: the next lock works.
    expect(await a.grants.withLock('alice', 'demo', NEVER, async () => 'again')).toBe('again');
  });

  it('keeps the lock through a long wait even where idle transactions are ended', async () => {
    await withDatabaseSetting('idle_in_transaction_session_timeout', '200ms', async () => {
      const store = openStore();
      await store.ready();
      const value = await store.grants.withLock('alice', 'demo', NEVER, async () => {
        await new Promise((resolve) => setTimeout(resolve, 800));
        return 'held';
      });
      expect(value).toBe('held');
    });
  });

  it('gives the next holder the grant as the one before it left it, read with the lock', async () => {
    const b = openStore();
    await b.ready();
    await a.grants.write({ owner: 'erin.o-k_1', provider: 'demo.v2', text: 'before', generation: 1 });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let held!: () => void;
    const holding = new Promise<void>((resolve) => (held = resolve));
    const first = a.grants.withLock('erin.o-k_1', 'demo.v2', NEVER, async (lock) => {
      expect(await lock.read()).toBe('before');
      held();
      await released;
      await a.grants.write({ owner: 'erin.o-k_1', provider: 'demo.v2', text: 'after', generation: 2 });
    });
    await holding;
    // Asked while the first holder works: it is answered only once the first one is done, with its write.
    const second = b.grants.withLock('erin.o-k_1', 'demo.v2', NEVER, async (lock) => lock.read());
    await new Promise((resolve) => setTimeout(resolve, 100));
    release();
    await first;
    expect(await second).toBe('after');
    // A grant that is not there reads as none.
    expect(await b.grants.withLock('nobody', 'demo', NEVER, async (lock) => lock.read())).toBeNull();
  });

  it("commits the lock's last write with its release, fenced like any other", async () => {
    const b = openStore();
    await b.ready();
    await a.grants.write({ owner: 'frank', provider: 'demo', text: 'one', generation: 1 });
    let waiting!: Promise<string | null>;
    await a.grants.withLock('frank', 'demo', NEVER, async (lock) => {
      waiting = b.grants.withLock('frank', 'demo', NEVER, (next) => next.read());
      await new Promise((resolve) => setTimeout(resolve, 100));
      await lock.writeLast({
        owner: 'frank',
        provider: 'demo',
        text: 'two',
        generation: 2,
        expectedGeneration: 1,
      });
    });
    // The waiting holder got the lock as the write was committed, and read it.
    expect(await waiting).toBe('two');
    expect(await a.grants.read('frank', 'demo')).toBe('two');

    // A last write over a generation that is gone changes nothing, and still releases the lock.
    const stale = a.grants.withLock('frank', 'demo', NEVER, (lock) =>
      lock.writeLast({
        owner: 'frank',
        provider: 'demo',
        text: 'stale',
        generation: 2,
        expectedGeneration: 1,
      }),
    );
    await expect(stale).rejects.toMatchObject({ code: 'STORE_CONFLICT' });
    expect(await b.grants.withLock('frank', 'demo', NEVER, (lock) => lock.read())).toBe('two');
    // Where there was none, a last write over "none" creates it.
    await a.grants.withLock('grace', 'demo', NEVER, (lock) =>
      lock.writeLast({
        owner: 'grace',
        provider: 'demo',
        text: "it's new",
        generation: 1,
        expectedGeneration: null,
      }),
    );
    expect(await a.grants.read('grace', 'demo')).toBe("it's new");
  });

  it('reads and writes under the lock as READ COMMITTED even where the server defaults to REPEATABLE READ', async () => {
    await withDatabaseSetting('default_transaction_isolation', 'repeatable read', async () => {
      const [first, second] = [openStore(), openStore()];
      await Promise.all([first.ready(), second.ready()]);
      await first.grants.write({ owner: 'ivan', provider: 'demo', text: 'one', generation: 1 });
      let waiting!: Promise<string | null>;
      await first.grants.withLock('ivan', 'demo', NEVER, async () => {
        waiting = second.grants.withLock('ivan', 'demo', NEVER, async (lock) => {
          const seen = await lock.read();
          // As a refresh does: a mark committed through the pool, then the answer as the last write.
          await second.grants.write({
            owner: 'ivan',
            provider: 'demo',
            text: 'mark',
            generation: 3,
            expectedGeneration: 2,
          });
          await lock.writeLast({
            owner: 'ivan',
            provider: 'demo',
            text: 'answer',
            generation: 4,
            expectedGeneration: 3,
          });
          return seen;
        });
        await new Promise((resolve) => setTimeout(resolve, 100));
        await first.grants.write({
          owner: 'ivan',
          provider: 'demo',
          text: 'two',
          generation: 2,
          expectedGeneration: 1,
        });
      });
      // The waiter read what the holder before it committed, and its last write found its own mark.
      expect(await waiting).toBe('two');
      expect(await first.grants.read('ivan', 'demo')).toBe('answer');
    });
  });

  it('answers with the work once its last write was tried, even when that write failed, and drops the connection', async () => {
    await a.grants.write({ owner: 'judy', provider: 'demo', text: 'one', generation: 1 });
    let refusal: unknown;
    const value = await a.grants.withLock('judy', 'demo', NEVER, async (lock) => {
      // A generation past bigint's range: PostgreSQL refuses the statement, the connection is fine.
      await lock
        .writeLast({
          owner: 'judy',
          provider: 'demo',
          text: 'two',
          generation: 2 ** 70,
          expectedGeneration: 1,
        })
        .catch((error: unknown) => (refusal = error));
      await a.grants.write({
        owner: 'judy',
        provider: 'demo',
        text: 'two',
        generation: 2,
        expectedGeneration: 1,
      });
      return 'stored through the store';
    });
    expect(value).toBe('stored through the store');
    expect(refusal).toMatchObject({ code: 'STORE_WRITE_FAILED' });
    // The failed transaction's connection was not given back: the next lock works and reads the store.
    expect(await a.grants.withLock('judy', 'demo', NEVER, (lock) => lock.read())).toBe('two');
  });

  it('refuses a last write once the lock connection is lost, so the caller writes through the store', async () => {
    await a.grants.write({ owner: 'heidi', provider: 'demo', text: 'one', generation: 1 });
    let refusal: unknown;
    const outcome = a.grants.withLock('heidi', 'demo', NEVER, async (lock) => {
      expect(await terminateLockHolders()).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 200));
      return lock
        .writeLast({ owner: 'heidi', provider: 'demo', text: 'two', generation: 2, expectedGeneration: 1 })
        .catch((error: unknown) => (refusal = error));
    });
    await expect(outcome).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(refusal).toMatchObject({
      code: 'STORE_UNAVAILABLE',
      message: expect.stringMatching(/lock .*lost/),
    });
    expect(await a.grants.read('heidi', 'demo')).toBe('one');
    expect(await a.grants.withLock('heidi', 'demo', NEVER, (lock) => lock.read())).toBe('one');
  });

  it('prepares each statement once per connection, and never more than a bounded number of texts', async () => {
    if (!postgres.available) throw new Error('no PostgreSQL');
    const db = new PostgresDatabase({ url: postgres.url, poolSize: 1 });
    databases.push(db);
    const prepared = async () =>
      Number(
        (
          await db.query<{ count: string }>(
            'SELECT count(*) AS count FROM pg_prepared_statements',
            [],
            'STORE_UNREADABLE',
          )
        ).rows[0]!.count,
      );
    const before = await prepared();
    for (let run = 0; run < 3; run++) await db.query('SELECT $1::int AS one', [run], 'STORE_UNREADABLE');
    expect(await prepared()).toBe(before + 1);
    // Texts built with values in them: answered all the same, without a prepared statement each.
    for (let value = 0; value < MAX_PREPARED_STATEMENTS + 20; value++) {
      const { rows } = await db.query<{ n: number }>(`SELECT ${value}::int AS n`, [], 'STORE_UNREADABLE');
      expect(rows[0]!.n).toBe(value);
    }
    expect(await prepared()).toBeLessThanOrEqual(MAX_PREPARED_STATEMENTS);
  });

  it('fences grant writes on the generation the writer read', async () => {
    const record = (generation: number, text: string) => ({
      owner: 'bob',
      provider: 'demo',
      text,
      generation,
    });
    // Nothing there yet: a writer that read "none" creates it; a second one is refused.
    await a.grants.write({ ...record(1, 'one'), expectedGeneration: null });
    await expect(
      a.grants.write({ ...record(1, 'other one'), expectedGeneration: null }),
    ).rejects.toMatchObject({
      code: 'STORE_CONFLICT',
    });
    // A writer that read generation 1 moves it to 2; a late writer that also read 1 is refused.
    await a.grants.write({ ...record(2, 'two'), expectedGeneration: 1 });
    await expect(a.grants.write({ ...record(2, 'stale two'), expectedGeneration: 1 })).rejects.toMatchObject({
      code: 'STORE_CONFLICT',
    });
    expect(await a.grants.read('bob', 'demo')).toBe('two');
    // A grant removed meanwhile is not brought back by a late write.
    await a.grants.delete('bob', 'demo');
    await expect(a.grants.write({ ...record(3, 'three'), expectedGeneration: 2 })).rejects.toMatchObject({
      code: 'STORE_CONFLICT',
    });
    expect(await a.grants.read('bob', 'demo')).toBeNull();
  });

  it('waits for a free lock connection as long as for a lock, never counting it as unreachable', async () => {
    if (!postgres.available) throw new Error('no PostgreSQL');
    const db = new PostgresDatabase({ url: postgres.url, lockPoolSize: 1, connectTimeoutMs: 200 });
    databases.push(db);
    const grants = new PgGrantRecords(db, { lockTimeoutMs: 5_000 });
    const holdFor = (owner: string, ms: number) => {
      let started!: () => void;
      const holding = new Promise<void>((resolve) => (started = resolve));
      const done = grants.withLock(owner, 'one', NEVER, async () => {
        started();
        await new Promise((resolve) => setTimeout(resolve, ms));
      });
      return { holding, done };
    };
    // The only lock connection is busy for longer than a connection may take to open.
    const first = holdFor('carol', 800);
    await first.holding;
    expect(await grants.withLock('carol', 'two', NEVER, async () => 'second')).toBe('second');
    await first.done;

    // Busy for longer than the lock timeout: the waiter hears LOCK_TIMEOUT, not STORE_UNAVAILABLE.
    const impatient = new PgGrantRecords(db, { lockTimeoutMs: 300 });
    const second = holdFor('dave', 1_500);
    await second.holding;
    await expect(impatient.withLock('dave', 'two', NEVER, async () => 'never')).rejects.toMatchObject({
      code: 'LOCK_TIMEOUT',
    });
    await second.done;
  });
});
