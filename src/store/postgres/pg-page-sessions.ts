import { SessionStore, secretDigest, type SessionStoreOptions } from '../memory/memory-sessions.js';
import { DEFAULT_LOGIN_CODE_TTL_MS, DEFAULT_SESSION_TTL_MS, type PageSessions } from '../page-sessions.js';
import { StoreError } from '../store-errors.js';
import type { PostgresDatabase } from './postgres-database.js';

type Table = 'nanoclaw_page_sessions' | 'nanoclaw_login_codes';

/** A write to PostgreSQL: a digest recorded until it expires, or taken out. */
interface Write {
  kind: 'insert' | 'delete';
  table: Table;
  digest: string;
  /** After this the write no longer matters, and a failed one is given up. */
  expiresAt: number;
}

/** Failed writes kept for another try; the oldest are given up beyond this many. */
const MAX_PENDING_WRITES = 10_000;
/** How often failed writes are tried again while PostgreSQL does not answer. */
const RETRY_MS = 5_000;

/**
 * Page sessions and login codes shared by the hosts: a session started, or a link printed, on one host
 * works on all, and a login code is spent once across all of them (`DELETE ... RETURNING`). Only
 * digests are stored. Created values are usable on this host at once and recorded in the background;
 * a check waits for this host's records first. With PostgreSQL out of reach, each host answers from
 * what it made itself, and keeps the writes that failed (a record, a spent code, an ended session) to
 * try again until PostgreSQL answers, before its next shared answer and every few seconds.
 */
export class PgPageSessions implements PageSessions {
  readonly #db: PostgresDatabase;
  readonly #local: SessionStore;
  readonly #sessionTtlMs: number;
  readonly #loginCodeTtlMs: number;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;
  readonly #writes = new Set<Promise<void>>();
  /** Failed writes by table and digest, oldest first; a later write for the same digest replaces one. */
  readonly #pending = new Map<string, Write>();
  #retrying: Promise<boolean> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    db: PostgresDatabase,
    options: SessionStoreOptions & { onError?: (error: unknown) => void } = {},
  ) {
    this.#db = db;
    this.#local = new SessionStore(options);
    this.#sessionTtlMs = options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS;
    this.#loginCodeTtlMs = options.loginCodeTtlMs ?? DEFAULT_LOGIN_CODE_TTL_MS;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => {});
  }

  get sessionTtlSeconds(): number {
    return this.#local.sessionTtlSeconds;
  }

  createSession(): string {
    const id = this.#local.createSession();
    this.#write(this.#insert('nanoclaw_page_sessions', id, this.#sessionTtlMs));
    return id;
  }

  createLoginCode(): string {
    const code = this.#local.createLoginCode();
    this.#write(this.#insert('nanoclaw_login_codes', code, this.#loginCodeTtlMs));
    return code;
  }

  async isValidSession(id: string | undefined): Promise<boolean> {
    if (!id) return false;
    return this.#shared(
      async () => {
        const { rows } = await this.#db.query(
          'SELECT 1 FROM nanoclaw_page_sessions WHERE digest = $1 AND expires_at > $2',
          [secretDigest(id), this.#now()],
          'STORE_UNREADABLE',
        );
        return rows.length > 0;
      },
      () => this.#local.isValidHere(id),
    );
  }

  async endSession(id: string | undefined): Promise<void> {
    if (!id) return;
    await this.#local.endSession(id);
    const removal = this.#removal('nanoclaw_page_sessions', id, this.#sessionTtlMs);
    await this.#shared(
      async () => {
        await this.#apply(removal);
        return true;
      },
      () => {
        this.#keep(removal);
        return true;
      },
    );
  }

  async redeemLoginCode(code: string | undefined): Promise<boolean> {
    if (!code) return false;
    return this.#shared(
      async () => {
        const { rows } = await this.#db.query<{ expires_at: string }>(
          'DELETE FROM nanoclaw_login_codes WHERE digest = $1 RETURNING expires_at',
          [secretDigest(code)],
          'STORE_WRITE_FAILED',
        );
        // Spent here too, so an outage later does not make it good again on this host.
        this.#local.redeemHere(code);
        return rows.length > 0 && Number(rows[0]!.expires_at) > this.#now();
      },
      () => {
        const redeemed = this.#local.redeemHere(code);
        // Taken out of PostgreSQL when it answers again, so no other host takes it then.
        if (redeemed) this.#keep(this.#removal('nanoclaw_login_codes', code, this.#loginCodeTtlMs));
        return redeemed;
      },
    );
  }

  /**
   * The shared answer, once this host's own records are in; this host's own when PostgreSQL is out
   * of reach (also when the writes kept from an outage still cannot go in).
   */
  async #shared(ask: () => Promise<boolean>, local: () => boolean): Promise<boolean> {
    await Promise.allSettled([...this.#writes]);
    if (this.#pending.size > 0 && !(await this.#retry())) return local();
    try {
      return await ask();
    } catch (error) {
      if (error instanceof StoreError && error.code === 'STORE_UNAVAILABLE') return local();
      throw error;
    }
  }

  #insert(table: Table, value: string, ttlMs: number): Write {
    return { kind: 'insert', table, digest: secretDigest(value), expiresAt: this.#now() + ttlMs };
  }

  #removal(table: Table, value: string, ttlMs: number): Write {
    return { kind: 'delete', table, digest: secretDigest(value), expiresAt: this.#now() + ttlMs };
  }

  async #apply(write: Write): Promise<void> {
    if (write.kind === 'delete') {
      await this.#db.query(
        `DELETE FROM ${write.table} WHERE digest = $1`,
        [write.digest],
        'STORE_WRITE_FAILED',
      );
      return;
    }
    await this.#db.query(
      `DELETE FROM ${write.table} WHERE expires_at <= $1`,
      [this.#now()],
      'STORE_WRITE_FAILED',
    );
    await this.#db.query(
      `INSERT INTO ${write.table} (digest, expires_at) VALUES ($1, $2) ON CONFLICT (digest) DO NOTHING`,
      [write.digest, write.expiresAt],
      'STORE_WRITE_FAILED',
    );
  }

  /** Writes in the background; a failed write is reported once and kept for another try. */
  #write(write: Write): void {
    const running = this.#apply(write).catch((error: unknown) => {
      this.#onError(error);
      this.#keep(write);
    });
    this.#writes.add(running);
    void running.finally(() => this.#writes.delete(running));
  }

  #keep(write: Write): void {
    const key = `${write.table}/${write.digest}`;
    this.#pending.delete(key);
    this.#pending.set(key, write);
    for (const [oldest] of this.#pending) {
      if (this.#pending.size <= MAX_PENDING_WRITES) break;
      this.#pending.delete(oldest);
      this.#onError(
        new StoreError(
          'STORE_WRITE_FAILED',
          `more than ${MAX_PENDING_WRITES} page session and login link writes are waiting for PostgreSQL: the oldest is given up`,
        ),
      );
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closed || this.#timer !== undefined || this.#pending.size === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#retry();
    }, RETRY_MS);
    this.#timer.unref();
  }

  /** Tries the kept writes again, oldest first; false when PostgreSQL still does not take them. */
  #retry(): Promise<boolean> {
    this.#retrying ??= (async () => {
      for (const [key, write] of [...this.#pending]) {
        if (this.#pending.get(key) !== write) continue;
        if (write.expiresAt <= this.#now()) {
          this.#pending.delete(key);
          continue;
        }
        try {
          await this.#apply(write);
          if (this.#pending.get(key) === write) this.#pending.delete(key);
        } catch {
          return false;
        }
      }
      return true;
    })().finally(() => {
      this.#retrying = undefined;
      this.#schedule();
    });
    return this.#retrying;
  }

  /** Waits for the records still being written (before a link or cookie goes out, and at shutdown), and tries the kept ones again. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#writes]);
    if (this.#pending.size > 0) await this.#retry();
  }

  /** Tries the writes still waiting once more, and stops trying. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
