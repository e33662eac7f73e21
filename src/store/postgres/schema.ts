import type pg from 'pg';
import { StoreError } from '../store-errors.js';

/**
 * The schema, one step per version, applied in order in one transaction under an advisory lock, so
 * hosts starting together apply each step once. A step is never edited once released: changes are
 * new steps.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE nanoclaw_grants (
    owner text NOT NULL,
    provider text NOT NULL,
    record text NOT NULL,
    generation bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, provider)
  );
  CREATE TABLE nanoclaw_pending_authorizations (
    state text PRIMARY KEY,
    owner text NOT NULL,
    provider text NOT NULL,
    code_verifier text,
    redirect_uri text NOT NULL,
    binding_hash bytea NOT NULL,
    expires_at bigint NOT NULL
  );
  CREATE INDEX nanoclaw_pending_authorizations_expiry ON nanoclaw_pending_authorizations (expires_at);
  CREATE TABLE nanoclaw_nango_connections (
    owner text NOT NULL,
    integration text NOT NULL,
    connection_id text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, integration)
  );
  CREATE INDEX nanoclaw_nango_connections_by_connection ON nanoclaw_nango_connections (integration, connection_id);
  CREATE TABLE nanoclaw_page_sessions (
    digest text PRIMARY KEY,
    expires_at bigint NOT NULL
  );
  CREATE TABLE nanoclaw_login_codes (
    digest text PRIMARY KEY,
    expires_at bigint NOT NULL
  );
  `,
  `
  CREATE TABLE nanoclaw_store_import_runs (
    source text PRIMARY KEY,
    first_at timestamptz NOT NULL DEFAULT now(),
    last_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE nanoclaw_store_imports (
    source text NOT NULL,
    kind text NOT NULL,
    owner text NOT NULL,
    name text NOT NULL,
    imported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, kind, owner, name)
  );
  `,
];

/** The key of the schema's advisory lock (any bigint of our own; grants use hashes of their names). */
const SCHEMA_LOCK = "hashtextextended('nanoclaw-schema', 0)";

/** Brings the schema up to date; refuses a database whose schema is newer than these steps. */
export async function applySchema(client: pg.ClientBase, where: string): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query(`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK})`);
    await client.query(
      'CREATE TABLE IF NOT EXISTS nanoclaw_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ version: number | null }>(
      'SELECT max(version) AS version FROM nanoclaw_schema',
    );
    const current = rows[0]?.version ?? 0;
    if (current > MIGRATIONS.length) {
      throw new StoreError(
        'STORE_SCHEMA_NEWER',
        `the schema in ${where} is at version ${current}, newer than this nanoclaw knows (${MIGRATIONS.length}): upgrade nanoclaw on this host`,
      );
    }
    for (let version = current + 1; version <= MIGRATIONS.length; version++) {
      await client.query(MIGRATIONS[version - 1]!);
      await client.query('INSERT INTO nanoclaw_schema (version) VALUES ($1)', [version]);
    }
    await client.query('COMMIT');
    return MIGRATIONS.length;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
