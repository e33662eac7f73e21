/**
 * One grant as the store keeps it: the text the built-in source sealed (tokens encrypted with the
 * hosts' key, which never reaches the store) and its generation, which goes up with every write.
 */
export interface GrantRecord {
  owner: string;
  provider: string;
  text: string;
  generation: number;
  /**
   * The generation of the record this write replaces, as the writer read it (null: there was none).
   * When given, the write applies only if the store still holds exactly that, and fails with
   * STORE_CONFLICT otherwise: a writer that lost its lock never overwrites a newer grant, nor brings
   * back a removed one. Omitted, the record is written whatever is there.
   */
  expectedGeneration?: number | null;
}

/**
 * Where the built-in source's grants live, and the lock that makes one refresh per grant: files in
 * `data/builtin/grants` (one host), or PostgreSQL (many hosts).
 */
export interface GrantRecordStore {
  /** For messages: where this grant is kept (a file path, or PostgreSQL's host and database). */
  where(owner: string, provider: string): string;
  /** The grant's text, or null when there is none. A store that cannot answer throws, never "none". */
  read(owner: string, provider: string): Promise<string | null>;
  /** Durable (committed, fsynced) when it returns. */
  write(record: GrantRecord): Promise<void>;
  /** Removes the grant; true when there was one. */
  delete(owner: string, provider: string): Promise<boolean>;
  /**
   * Runs `work` holding the grant's lock, shared with every process that uses this store. Writes
   * inside `work` are committed one by one, so a mark written before a request is durable before the
   * request leaves.
   */
  withLock<T>(
    owner: string,
    provider: string,
    signal: AbortSignal,
    work: (lock: GrantLock) => Promise<T>,
  ): Promise<T>;
  /** Every grant held, for moving a store. */
  list(): Promise<Array<{ owner: string; provider: string }>>;
}

/** A grant's lock while it is held: what is read and written through it belongs to that grant. */
export interface GrantLock {
  /**
   * The grant's text as it stands under the lock (null: none), what an earlier holder wrote included.
   * A store may have read it with the lock, in the same round trip.
   */
  read(): Promise<string | null>;
  /**
   * The work's last write: fenced on `expectedGeneration` (STORE_CONFLICT, nothing written, when the
   * grant changed) and durable when it returns. A store may commit it together with the lock's
   * release (PostgreSQL: in the lock's transaction, one round trip); nothing is read or written
   * through the lock after it. A failure leaves the lock released or as good as (its connection
   * dropped): write through the store itself to try again.
   */
  writeLast(record: GrantRecord & { expectedGeneration: number | null }): Promise<void>;
}
