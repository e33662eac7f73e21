import { judgeConsumed } from '../memory/memory-pending-authorizations.js';
import {
  hashBinding,
  PENDING_AUTHORIZATION_TTL_MS,
  type ConsumeOutcome,
  type PendingAuthorization,
  type PendingAuthorizationStore,
} from '../pending-authorizations.js';
import type { PostgresDatabase } from './postgres-database.js';

interface PendingRow {
  state: string;
  owner: string;
  provider: string;
  code_verifier: string | null;
  redirect_uri: string;
  binding_hash: Buffer;
  expires_at: string;
}

/**
 * Sign-ins started on any host, so the callback may reach another: one row per `state`, taken by a
 * single `DELETE ... RETURNING`, so two callbacks with the same state (on one host or two) cannot
 * both have it. Only a digest of the browser binding is stored.
 */
export class PgPendingAuthorizations implements PendingAuthorizationStore {
  readonly #db: PostgresDatabase;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(db: PostgresDatabase, options: { ttlMs?: number; now?: () => number } = {}) {
    this.#db = db;
    this.#ttlMs = options.ttlMs ?? PENDING_AUTHORIZATION_TTL_MS;
    this.#now = options.now ?? Date.now;
  }

  async add(
    entry: Omit<PendingAuthorization, 'expiresAt'>,
    browserBinding: string,
  ): Promise<PendingAuthorization> {
    const now = this.#now();
    const pending = { ...entry, expiresAt: now + this.#ttlMs };
    // Expired rows go as new ones come: nobody can use them any more.
    await this.#db.query(
      'DELETE FROM nanoclaw_pending_authorizations WHERE expires_at <= $1',
      [now],
      'STORE_WRITE_FAILED',
    );
    await this.#db.query(
      `INSERT INTO nanoclaw_pending_authorizations
         (state, owner, provider, code_verifier, redirect_uri, binding_hash, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        entry.state,
        entry.owner,
        entry.provider,
        entry.codeVerifier,
        entry.redirectUri,
        hashBinding(browserBinding),
        pending.expiresAt,
      ],
      'STORE_WRITE_FAILED',
    );
    return pending;
  }

  async consume(state: string, provider: string, browserBinding: string | null): Promise<ConsumeOutcome> {
    const { rows } = await this.#db.query<PendingRow>(
      // Columns by name: a prepared statement's result must keep its shape when a later schema adds one.
      'DELETE FROM nanoclaw_pending_authorizations WHERE state = $1 RETURNING state, owner, provider, code_verifier, redirect_uri, binding_hash, expires_at',
      [state],
      'STORE_WRITE_FAILED',
    );
    const row = rows[0];
    if (!row) return { ok: false, reason: 'unknown', owner: null };
    return judgeConsumed(
      {
        state: row.state,
        owner: row.owner,
        provider: row.provider,
        codeVerifier: row.code_verifier,
        redirectUri: row.redirect_uri,
        expiresAt: Number(row.expires_at),
        bindingHash: row.binding_hash,
      },
      provider,
      browserBinding,
      this.#now(),
    );
  }

  /** The rows belong to every host: nothing of this process's own to forget. */
  clear(): void {}
}
