import type { PostgresDatabase } from './postgres-database.js';

/** What importing one record from a data folder did. */
export type StoreImportOutcome =
  /** Absent from PostgreSQL, and copied. */
  | 'written'
  /** PostgreSQL holds the same record. */
  | 'unchanged'
  /** PostgreSQL holds a record of its own for this name: it is the record of truth, and kept. */
  | 'kept'
  /** An earlier run from this folder saw this name and it has been deleted since: not copied back. */
  | 'skipped_deleted';

export type StoreImportKind = 'grant' | 'connection';

export interface StoreImportOptions {
  /** Copy rows deleted since an earlier run from the same folder back in. */
  force?: boolean;
}

/**
 * Copies records from a data folder into PostgreSQL without ever replacing a row PostgreSQL holds
 * (`INSERT ... ON CONFLICT DO NOTHING`): once a row is there, hosts on PostgreSQL own it, and a
 * generation number says nothing across a disconnect and a new connection. Every name a run has seen
 * (copied or found there) is noted against the folder, so a later run does not bring back a grant or
 * connection deleted in between.
 */
export class PgStoreImport {
  readonly #db: PostgresDatabase;
  readonly #source: string;
  readonly #force: boolean;

  constructor(db: PostgresDatabase, source: string, options: StoreImportOptions = {}) {
    this.#db = db;
    this.#source = source;
    this.#force = options.force ?? false;
  }

  /** Notes this run; returns when an earlier run from the same folder happened, or null. */
  async begin(): Promise<Date | null> {
    const { rows } = await this.#db.query<{ previous: Date | null }>(
      `WITH earlier AS (SELECT last_at FROM nanoclaw_store_import_runs WHERE source = $1),
       noted AS (
         INSERT INTO nanoclaw_store_import_runs (source) VALUES ($1)
         ON CONFLICT (source) DO UPDATE SET last_at = now()
       )
       SELECT (SELECT last_at FROM earlier) AS previous`,
      [this.#source],
      'STORE_WRITE_FAILED',
    );
    return rows[0]?.previous ?? null;
  }

  async grant(
    owner: string,
    provider: string,
    record: string,
    generation: number,
  ): Promise<StoreImportOutcome> {
    return this.#import(
      'grant',
      owner,
      provider,
      async () => {
        const { rows } = await this.#db.query<{ record: string }>(
          'SELECT record FROM nanoclaw_grants WHERE owner = $1 AND provider = $2',
          [owner, provider],
          'STORE_UNREADABLE',
        );
        return rows[0]?.record ?? null;
      },
      record,
      async () => {
        const { rowCount } = await this.#db.query(
          `INSERT INTO nanoclaw_grants (owner, provider, record, generation) VALUES ($1, $2, $3, $4)
           ON CONFLICT (owner, provider) DO NOTHING`,
          [owner, provider, record, generation],
          'STORE_WRITE_FAILED',
        );
        return (rowCount ?? 0) > 0;
      },
    );
  }

  async connection(owner: string, integration: string, connectionId: string): Promise<StoreImportOutcome> {
    return this.#import(
      'connection',
      owner,
      integration,
      async () => {
        const { rows } = await this.#db.query<{ connection_id: string }>(
          'SELECT connection_id FROM nanoclaw_nango_connections WHERE owner = $1 AND integration = $2',
          [owner, integration],
          'STORE_UNREADABLE',
        );
        return rows[0]?.connection_id ?? null;
      },
      connectionId,
      async () => {
        const { rowCount } = await this.#db.query(
          `INSERT INTO nanoclaw_nango_connections (owner, integration, connection_id) VALUES ($1, $2, $3)
           ON CONFLICT (owner, integration) DO NOTHING`,
          [owner, integration, connectionId],
          'STORE_WRITE_FAILED',
        );
        return (rowCount ?? 0) > 0;
      },
    );
  }

  async #import(
    kind: StoreImportKind,
    owner: string,
    name: string,
    current: () => Promise<string | null>,
    value: string,
    insert: () => Promise<boolean>,
  ): Promise<StoreImportOutcome> {
    const existing = await current();
    if (existing !== null) {
      await this.#note(kind, owner, name);
      return existing === value ? 'unchanged' : 'kept';
    }
    if (!this.#force && (await this.#seen(kind, owner, name))) return 'skipped_deleted';
    // Another host may have written the row since it was read: then that row stays.
    const written = await insert();
    await this.#note(kind, owner, name);
    return written ? 'written' : 'kept';
  }

  async #seen(kind: StoreImportKind, owner: string, name: string): Promise<boolean> {
    const { rows } = await this.#db.query(
      'SELECT 1 FROM nanoclaw_store_imports WHERE source = $1 AND kind = $2 AND owner = $3 AND name = $4',
      [this.#source, kind, owner, name],
      'STORE_UNREADABLE',
    );
    return rows.length > 0;
  }

  async #note(kind: StoreImportKind, owner: string, name: string): Promise<void> {
    await this.#db.query(
      `INSERT INTO nanoclaw_store_imports (source, kind, owner, name) VALUES ($1, $2, $3, $4)
       ON CONFLICT (source, kind, owner, name) DO NOTHING`,
      [this.#source, kind, owner, name],
      'STORE_WRITE_FAILED',
    );
  }
}
