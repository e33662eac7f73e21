import type { ConnectionMap } from '../connection-map.js';
import type { PostgresDatabase } from './postgres-database.js';

/** The Nango owner -> connection map in PostgreSQL, shared by every host. */
export class PgConnectionMap implements ConnectionMap {
  constructor(readonly db: PostgresDatabase) {}

  async get(owner: string, integration: string): Promise<string | null> {
    const { rows } = await this.db.query<{ connection_id: string }>(
      'SELECT connection_id FROM nanoclaw_nango_connections WHERE owner = $1 AND integration = $2',
      [owner, integration],
      'STORE_UNREADABLE',
    );
    return rows[0]?.connection_id ?? null;
  }

  async set(owner: string, integration: string, connectionId: string): Promise<void> {
    await this.db.query(
      `INSERT INTO nanoclaw_nango_connections (owner, integration, connection_id) VALUES ($1, $2, $3)
       ON CONFLICT (owner, integration) DO UPDATE SET connection_id = excluded.connection_id, updated_at = now()`,
      [owner, integration, connectionId],
      'STORE_WRITE_FAILED',
    );
  }

  async delete(owner: string, integration: string): Promise<void> {
    await this.db.query(
      'DELETE FROM nanoclaw_nango_connections WHERE owner = $1 AND integration = $2',
      [owner, integration],
      'STORE_WRITE_FAILED',
    );
  }

  async ownersOf(integration: string, connectionId: string): Promise<string[]> {
    const { rows } = await this.db.query<{ owner: string }>(
      'SELECT owner FROM nanoclaw_nango_connections WHERE integration = $1 AND connection_id = $2 ORDER BY owner',
      [integration, connectionId],
      'STORE_UNREADABLE',
    );
    return rows.map((row) => row.owner);
  }

  /** Every entry, for moving a store. */
  async entries(): Promise<Array<{ owner: string; integration: string; connectionId: string }>> {
    const { rows } = await this.db.query<{ owner: string; integration: string; connection_id: string }>(
      'SELECT owner, integration, connection_id FROM nanoclaw_nango_connections ORDER BY owner, integration',
      [],
      'STORE_UNREADABLE',
    );
    return rows.map((row) => ({
      owner: row.owner,
      integration: row.integration,
      connectionId: row.connection_id,
    }));
  }
}
