import type pg from 'pg';
import type { GrantLock, GrantRecord, GrantRecordStore } from '../grant-records.js';
import { LockTimeoutError, StoreError } from '../store-errors.js';
import { withoutPassword } from './database-url.js';
import type { PostgresDatabase } from './postgres-database.js';

export interface PgGrantRecordsOptions {
  /** How long to wait for another host's refresh of the same grant. */
  lockTimeoutMs?: number;
}

/**
 * Grants in PostgreSQL, sealed on the hosts before they arrive. A grant's lock is a transaction-scoped
 * advisory lock held on a connection of its own for as long as `work` runs. `work` is given the grant
 * as it stood once the lock was granted; what it writes goes through the other pool, one committed
 * statement at a time (so a "refresh sent" mark is durable before the request leaves), except its last
 * write, which commits with the lock's transaction and so releases the lock in the same round trip. A
 * rotated refresh token is thereby committed before the access token that came with it is written to
 * any host's file. A host that dies ends its connection, and the server releases its locks.
 */
export class PgGrantRecords implements GrantRecordStore {
  readonly #db: PostgresDatabase;
  readonly #lockTimeoutMs: number;

  constructor(db: PostgresDatabase, options: PgGrantRecordsOptions = {}) {
    this.#db = db;
    this.#lockTimeoutMs = options.lockTimeoutMs ?? 30_000;
  }

  where(owner: string, provider: string): string {
    return `${this.#db.where} (grant ${owner}/${provider})`;
  }

  async read(owner: string, provider: string): Promise<string | null> {
    const { rows } = await this.#db.query<{ record: string }>(
      'SELECT record FROM nanoclaw_grants WHERE owner = $1 AND provider = $2',
      [owner, provider],
      'STORE_UNREADABLE',
    );
    return rows[0]?.record ?? null;
  }

  async write(record: GrantRecord): Promise<void> {
    const { owner, provider, text, generation, expectedGeneration } = record;
    if (expectedGeneration === undefined) {
      await this.#db.query(
        `INSERT INTO nanoclaw_grants (owner, provider, record, generation) VALUES ($1, $2, $3, $4)
         ON CONFLICT (owner, provider)
         DO UPDATE SET record = excluded.record, generation = excluded.generation, updated_at = now()`,
        [owner, provider, text, generation],
        'STORE_WRITE_FAILED',
      );
      return;
    }
    const statement = fencedWrite({ ...record, expectedGeneration });
    const { rowCount } = await this.#db.query(statement.text, statement.values, 'STORE_WRITE_FAILED');
    if ((rowCount ?? 0) === 0) throw this.#conflict(record);
  }

  #conflict(record: GrantRecord): StoreError {
    return new StoreError(
      'STORE_CONFLICT',
      `${this.where(record.owner, record.provider)} changed since it was read (expected generation ${record.expectedGeneration ?? 'none'}): another host wrote it first, and nothing was written`,
    );
  }

  async delete(owner: string, provider: string): Promise<boolean> {
    const { rowCount } = await this.#db.query(
      'DELETE FROM nanoclaw_grants WHERE owner = $1 AND provider = $2',
      [owner, provider],
      'STORE_WRITE_FAILED',
    );
    return (rowCount ?? 0) > 0;
  }

  /**
   * The lock's connection listens for errors for as long as it is held: a backend ended while `work`
   * runs (a server restart, `pg_terminate_backend`) must not take the process down. `work` is let
   * finish (its writes are fenced on the generation it read, so they never overwrite a later
   * holder's), then the lost lock is reported as STORE_UNAVAILABLE and the connection is dropped.
   *
   * Taking the lock is one round trip: the transaction, its settings, the lock and the read of the
   * grant that `work` is given go to the server as one batch of statements. Under READ COMMITTED the
   * read sees every write committed before the lock was granted.
   */
  async withLock<T>(
    owner: string,
    provider: string,
    signal: AbortSignal,
    work: (lock: GrantLock) => Promise<T>,
  ): Promise<T> {
    signal.throwIfAborted();
    const { client, release } = await this.#db.lockClient(signal, this.#lockTimeoutMs);
    let broken: Error | undefined;
    /** The last write was sent: the transaction is over, or its connection is dropped with it. */
    let ended = false;
    /** Why a connection whose last write failed is not given back to the pool. */
    let unusable: Error | undefined;
    const onError = (error: Error) => {
      if (!ended) broken ??= error;
    };
    client.on('error', onError);
    try {
      let current: string | null;
      try {
        current = await this.#lockAndRead(client, owner, provider, signal, (error) => {
          broken = error;
          release(error);
        });
      } catch (error) {
        broken ??= error instanceof Error ? error : new Error('the grant lock failed');
        throw this.#lockFailure(error, owner, provider, signal);
      }
      const writeLast = async (record: GrantRecord & { expectedGeneration: number | null }) => {
        if (ended) throw new Error(`the lock on grant ${owner}/${provider} was already released`);
        if (broken) throw this.#lockLost(broken, owner, provider);
        ended = true;
        let written: boolean;
        try {
          written = await this.#writeAndCommit(client, record);
        } catch (error) {
          // Committed or not, the connection's state is unknown: it is dropped, which ends the
          // transaction on the server (and the lock with it) if it is still open. The lock did its
          // work: the caller stores the answer through the store, and nothing else is lost.
          unusable = error instanceof Error ? error : new Error('the last write under the lock failed');
          throw this.#db.failure(error, 'STORE_WRITE_FAILED', 'the write under the grant lock failed');
        }
        if (!written) throw this.#conflict(record);
      };
      let result: T;
      try {
        result = await work({ read: () => Promise.resolve(current), writeLast });
      } catch (error) {
        if (!broken && !ended) await client.query('ROLLBACK').catch((rollback: Error) => (broken = rollback));
        throw error;
      }
      // Without a last write the lock's transaction wrote nothing (the work's writes are committed
      // already): a failed COMMIT only means the connection is gone, and the lock with it.
      if (!broken && !ended) await client.query('COMMIT').catch((commit: Error) => (broken = commit));
      if (broken) throw this.#lockLost(broken, owner, provider);
      return result;
    } finally {
      // A connection cut short (an abort while waiting, a failure) is dropped, never reused; it keeps
      // its error listener, since a dropped connection may still report its end.
      const dropped = broken ?? unusable;
      if (!dropped) client.off('error', onError);
      release(dropped);
    }
  }

  /**
   * The fenced write and the lock's COMMIT in one round trip: the write is durable, and the lock
   * released, when it returns. False when the fence found the grant changed (nothing written).
   */
  async #writeAndCommit(
    client: pg.PoolClient,
    record: GrantRecord & { expectedGeneration: number | null },
  ): Promise<boolean> {
    const statement = fencedWrite(record);
    // The simple query protocol takes no parameters: they go in as literals.
    const inline = statement.text.replace(/\$(\d+)/g, (_, index: string) => {
      const value = statement.values[Number(index) - 1]!;
      return typeof value === 'number' ? String(value) : client.escapeLiteral(value);
    });
    const results = (await client.query(`${inline};\nCOMMIT`)) as unknown as pg.QueryResult[];
    return (results[0]?.rowCount ?? 0) > 0;
  }

  #lockLost(error: Error, owner: string, provider: string): StoreError {
    const reason = (error as pg.DatabaseError).code ?? withoutPassword(error.message, this.#db.url);
    return new StoreError(
      'STORE_UNAVAILABLE',
      `the connection to ${this.#db.where} holding the lock on grant ${owner}/${provider} was lost while it was held (${reason}); ` +
        'what was stored under it is kept, and it is tried again',
      { cause: error },
    );
  }

  #lockFailure(error: unknown, owner: string, provider: string, signal: AbortSignal): unknown {
    if (signal.aborted) return signal.reason;
    if ((error as pg.DatabaseError | undefined)?.code === '55P03') {
      return new LockTimeoutError(
        `timed out after ${this.#lockTimeoutMs} ms waiting for another host's refresh of ${owner}/${provider}`,
        { cause: error },
      );
    }
    return this.#db.failure(error, 'STORE_WRITE_FAILED', 'the grant lock failed');
  }

  /**
   * Opens the lock's transaction, waits for the lock and reads the grant, in one batch (the simple
   * query protocol takes no parameters: the names go in as escaped literals). The lock's key is a
   * 64-bit hash of the names: two grants that share one only wait for each other. An abort ends the
   * connection at once; the server's wait behind it ends when it notices (at the latest when
   * `lock_timeout` runs out), and what it would have read is never used.
   */
  async #lockAndRead(
    client: pg.PoolClient,
    owner: string,
    provider: string,
    signal: AbortSignal,
    onBroken: (error: Error) => void,
  ): Promise<string | null> {
    const onAbort = () => {
      const error = new Error('the wait for a grant lock was aborted');
      onBroken(error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    let results: pg.QueryResult[];
    try {
      // Aborted while the connection was being opened: the listener came too late to hear it.
      signal.throwIfAborted();
      const [ownerLiteral, providerLiteral] = [client.escapeLiteral(owner), client.escapeLiteral(provider)];
      const batch = await client.query(
        [
          // READ COMMITTED whatever the server's default: each statement then sees what was
          // committed before it started, so the read after the lock sees the last holder's writes,
          // and the last write sees the mark the work committed through the other pool.
          'BEGIN ISOLATION LEVEL READ COMMITTED',
          `SET LOCAL lock_timeout = ${Math.max(1, Math.round(this.#lockTimeoutMs))}`,
          // The transaction stays idle while `work` waits for a provider: a server-wide idle timeout must not end it.
          'SET LOCAL idle_in_transaction_session_timeout = 0',
          `SELECT pg_advisory_xact_lock(hashtextextended('nanoclaw-grant/' || ${ownerLiteral} || '/' || ${providerLiteral}, 0))`,
          `SELECT record FROM nanoclaw_grants WHERE owner = ${ownerLiteral} AND provider = ${providerLiteral}`,
        ].join(';\n'),
      );
      results = batch as unknown as pg.QueryResult[];
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    signal.throwIfAborted();
    const read = results.at(-1) as pg.QueryResult<{ record: string }> | undefined;
    return read?.rows[0]?.record ?? null;
  }

  async list(): Promise<Array<{ owner: string; provider: string }>> {
    const { rows } = await this.#db.query<{ owner: string; provider: string }>(
      'SELECT owner, provider FROM nanoclaw_grants ORDER BY owner, provider',
      [],
      'STORE_UNREADABLE',
    );
    return rows;
  }
}

/**
 * A write that applies only over the generation its writer read (an insert only where there is
 * none), so a host whose lock connection broke while it worked never overwrites what the next lock
 * holder wrote, nor revives a removed grant. It changes no row when the fence fails.
 */
function fencedWrite(record: GrantRecord & { expectedGeneration: number | null }): {
  text: string;
  values: Array<string | number>;
} {
  const { owner, provider, text, generation, expectedGeneration } = record;
  return expectedGeneration === null
    ? {
        text: `INSERT INTO nanoclaw_grants (owner, provider, record, generation) VALUES ($1, $2, $3, $4)
               ON CONFLICT (owner, provider) DO NOTHING`,
        values: [owner, provider, text, generation],
      }
    : {
        text: `UPDATE nanoclaw_grants SET record = $3, generation = $4, updated_at = now()
                WHERE owner = $1 AND provider = $2 AND generation = $5`,
        values: [owner, provider, text, generation, expectedGeneration],
      };
}
