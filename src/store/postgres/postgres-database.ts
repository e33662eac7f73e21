import { createHash } from 'node:crypto';
import type pg from 'pg';
import { Slots, SlotWaitTimeoutError } from '../../async/slots.js';
import { LockTimeoutError, StoreError } from '../store-errors.js';
import { describeDatabaseUrl, withoutPassword } from './database-url.js';
import { applySchema } from './schema.js';

export interface PostgresDatabaseOptions {
  /** `postgres://user:password@host:port/database`; the password never leaves this object. */
  url: string;
  /** Connections for reads and writes. */
  poolSize?: number;
  /**
   * Connections that hold grant locks (each lock is a transaction of its own). A lock taken while
   * all are in use waits for one as long as it would wait for the lock itself (LOCK_TIMEOUT).
   */
  lockPoolSize?: number;
  /** How long to wait for a connection before PostgreSQL counts as unreachable. */
  connectTimeoutMs?: number;
  /** Background trouble (an idle connection lost), already without the password. */
  onError?: (error: StoreError) => void;
}

type Driver = typeof pg;
let loadingDriver: Promise<Driver> | null = null;
let loadedDriver: Driver | null = null;

/** node-postgres, loaded the first time a database is used: commands without one never load it. */
export function loadDriver(): Promise<Driver> {
  loadingDriver ??= import('pg').then((module) => (loadedDriver = module.default));
  return loadingDriver;
}

/** A connection of the lock pool, and the one way to give it back (with the error that broke it, if any). */
export interface LockConnection {
  client: pg.PoolClient;
  release(error?: Error): void;
}

/**
 * The most statement texts prepared on each connection: a caller that built texts with values in them
 * would otherwise leave a new prepared statement on every connection per value. Past it, texts are
 * parsed on every run, as unprepared statements are.
 */
export const MAX_PREPARED_STATEMENTS = 100;
const statementNames = new Map<string, string>();

/** The prepared statement's name for a text (a hash of it), or null once too many texts were seen. */
function statementName(text: string): string | null {
  let name = statementNames.get(text);
  if (name === undefined) {
    if (statementNames.size >= MAX_PREPARED_STATEMENTS) return null;
    name = `nanoclaw_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return name;
}

/** SQLSTATE classes that mean "cannot talk to the server now", not "the statement is wrong". */
const UNAVAILABLE_STATES = /^(08|53|57P|28|3D000)/;

/**
 * One PostgreSQL database shared by the hosts: two pools (statements, and grant locks, kept apart so
 * that lock holders can never take every connection their own writes need), the schema applied
 * before the first statement, and every driver error turned into a StoreError without the password.
 */
export class PostgresDatabase {
  readonly where: string;
  readonly url: string;
  readonly #options: PostgresDatabaseOptions;
  #pools: Promise<{ pool: pg.Pool; lockPool: pg.Pool }> | null = null;
  readonly #onError: (error: StoreError) => void;
  #ready: Promise<void> | null = null;
  #closed = false;
  /**
   * Turns for the lock pool's connections: the pool itself is never asked for more than it holds,
   * so its connect timeout only ever measures opening a connection, never a wait behind lock holders.
   */
  readonly #lockSlots: Slots;

  constructor(options: PostgresDatabaseOptions) {
    this.url = options.url;
    this.#lockSlots = new Slots(options.lockPoolSize ?? 10);
    this.where = describeDatabaseUrl(options.url);
    this.#options = options;
    this.#onError = options.onError ?? (() => {});
  }

  /** The two pools, made on first use (no connection is opened until a statement needs one). */
  pools(): Promise<{ pool: pg.Pool; lockPool: pg.Pool }> {
    this.#pools ??= loadDriver().then((driver) => {
      const options = this.#options;
      const common = {
        connectionString: options.url,
        connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
        application_name: 'nanoclaw',
      };
      const pool = new driver.Pool({ ...common, max: options.poolSize ?? 10 });
      const lockPool = new driver.Pool({ ...common, max: options.lockPoolSize ?? 10 });
      // An idle connection that breaks (the server restarts) must not take the process down.
      for (const each of [pool, lockPool])
        each.on('error', (error) => this.#onError(this.unavailable(error)));
      return { pool, lockPool };
    });
    return this.#pools;
  }

  /** Applies the schema once; a failure (server down) is tried again by the next caller. */
  ready(): Promise<void> {
    if (this.#closed) return Promise.reject(new StoreError('STORE_UNAVAILABLE', `${this.where} is closed`));
    if (!this.#ready) {
      const applying = (async () => {
        const client = await this.#connect((await this.pools()).pool);
        try {
          await applySchema(client, this.where);
        } catch (error) {
          throw this.failure(error, 'STORE_WRITE_FAILED', 'cannot apply the schema');
        } finally {
          client.release();
        }
      })();
      applying.catch(() => {
        if (this.#ready === applying) this.#ready = null;
      });
      this.#ready = applying;
    }
    return this.#ready;
  }

  /**
   * One statement on the shared pool, committed when it returns. `text` is fixed (values go in
   * parameters): it is prepared once per connection and only bound and run after that.
   */
  async query<R extends pg.QueryResultRow>(
    text: string,
    values: unknown[],
    failure: 'STORE_UNREADABLE' | 'STORE_WRITE_FAILED',
  ): Promise<pg.QueryResult<R>> {
    await this.ready();
    try {
      const name = statementName(text);
      const pool = (await this.pools()).pool;
      return await (name === null ? pool.query<R>(text, values) : pool.query<R>({ name, text, values }));
    } catch (error) {
      throw this.failure(error, failure, 'a statement failed');
    }
  }

  /**
   * A connection of the lock pool, for a transaction that holds a lock. Waits at most `waitMs` for
   * one to come free (LockTimeoutError), and only until `signal` aborts.
   */
  async lockClient(signal: AbortSignal, waitMs: number): Promise<LockConnection> {
    await this.ready();
    let freeSlot: () => void;
    try {
      freeSlot = await this.#lockSlots.acquire(signal, waitMs);
    } catch (error) {
      if (!(error instanceof SlotWaitTimeoutError)) throw error;
      throw new LockTimeoutError(
        `timed out after ${waitMs} ms waiting for a free lock connection to ${this.where} (every one holds or waits for a grant lock)`,
        { cause: error },
      );
    }
    let client: pg.PoolClient;
    try {
      client = await this.#connect((await this.pools()).lockPool);
    } catch (error) {
      freeSlot();
      throw error;
    }
    let released = false;
    return {
      client,
      release: (error?: Error) => {
        if (released) return;
        released = true;
        client.release(error);
        freeSlot();
      },
    };
  }

  async #connect(pool: pg.Pool): Promise<pg.PoolClient> {
    try {
      return await pool.connect();
    } catch (error) {
      throw this.unavailable(error);
    }
  }

  /** A driver error as a StoreError: unreachable, or `code` for a statement the server refused. */
  failure(error: unknown, code: 'STORE_UNREADABLE' | 'STORE_WRITE_FAILED', what: string): StoreError {
    if (error instanceof StoreError) return error;
    if (
      loadedDriver &&
      error instanceof loadedDriver.DatabaseError &&
      !UNAVAILABLE_STATES.test(error.code ?? '')
    ) {
      return new StoreError(
        code,
        `${this.where}: ${what}: ${withoutPassword(error.message, this.url)} (${error.code ?? 'no SQLSTATE'})`,
        { cause: error },
      );
    }
    return this.unavailable(error);
  }

  unavailable(error: unknown): StoreError {
    if (error instanceof StoreError) return error;
    const reason =
      (error as NodeJS.ErrnoException | undefined)?.code ??
      (error instanceof Error ? withoutPassword(error.message, this.url) : 'no answer');
    return new StoreError(
      'STORE_UNAVAILABLE',
      `PostgreSQL at ${this.where} cannot be used right now (${reason}); nothing was changed, and it is tried again`,
      { cause: error },
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#pools) return;
    const { pool, lockPool } = await this.#pools;
    await Promise.allSettled([pool.end(), lockPool.end()]);
  }
}
