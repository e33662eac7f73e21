import { SessionStore, secretDigest, type SessionStoreOptions } from '../memory/memory-sessions.js';
import { DEFAULT_LOGIN_CODE_TTL_MS, DEFAULT_SESSION_TTL_MS, type PageSessions } from '../page-sessions.js';
import { StoreError } from '../store-errors.js';
import type { PostgresDatabase } from './postgres-database.js';

type Table = 'nanoclaw_page_sessions' | 'nanoclaw_login_codes';

/**
 * Page sessions and login codes shared by the hosts: a session started, or a link printed, on one host
 * works on all, and a login code is spent once across all of them (`DELETE ... RETURNING`). Only
 * digests are stored. Created values are usable on this host at once and recorded in the background;
 * a check waits for this host's records first. With PostgreSQL out of reach, each host answers from
 * what it made itself.
 */
export class PgPageSessions implements PageSessions {
  readonly #db: PostgresDatabase;
  readonly #local: SessionStore;
  readonly #sessionTtlMs: number;
  readonly #loginCodeTtlMs: number;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;
  readonly #writes = new Set<Promise<void>>();

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
    this.#record('nanoclaw_page_sessions', id, this.#sessionTtlMs);
    return id;
  }

  createLoginCode(): string {
    const code = this.#local.createLoginCode();
    this.#record('nanoclaw_login_codes', code, this.#loginCodeTtlMs);
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
    await this.#shared(
      async () => {
        await this.#db.query(
          'DELETE FROM nanoclaw_page_sessions WHERE digest = $1',
          [secretDigest(id)],
          'STORE_WRITE_FAILED',
        );
        return true;
      },
      () => true,
    );
  }

  async redeemLoginCode(code: string | undefined): Promise<boolean> {
    if (!code) return false;
    return this.#shared(
      async () => {
        this.#local.redeemHere(code);
        const { rows } = await this.#db.query<{ expires_at: string }>(
          'DELETE FROM nanoclaw_login_codes WHERE digest = $1 RETURNING expires_at',
          [secretDigest(code)],
          'STORE_WRITE_FAILED',
        );
        return rows.length > 0 && Number(rows[0]!.expires_at) > this.#now();
      },
      () => this.#local.redeemHere(code),
    );
  }

  /** The shared answer, once this host's own records are in; this host's own when PostgreSQL is out of reach. */
  async #shared(ask: () => Promise<boolean>, local: () => boolean): Promise<boolean> {
    await Promise.allSettled([...this.#writes]);
    try {
      return await ask();
    } catch (error) {
      if (error instanceof StoreError && error.code === 'STORE_UNAVAILABLE') return local();
      throw error;
    }
  }

  #record(table: Table, value: string, ttlMs: number): void {
    const now = this.#now();
    const write = (async () => {
      await this.#db.query(`DELETE FROM ${table} WHERE expires_at <= $1`, [now], 'STORE_WRITE_FAILED');
      await this.#db.query(
        `INSERT INTO ${table} (digest, expires_at) VALUES ($1, $2) ON CONFLICT (digest) DO NOTHING`,
        [secretDigest(value), now + ttlMs],
        'STORE_WRITE_FAILED',
      );
    })().catch((error: unknown) => this.#onError(error));
    this.#writes.add(write);
    void write.finally(() => this.#writes.delete(write));
  }

  /** Waits for the records still being written (before a link or cookie goes out, and at shutdown). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#writes]);
  }
}
