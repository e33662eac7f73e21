/**
 * Which Nango connection serves an owner's integration (owner -> integration -> connection id): a
 * JSON file under the data folder for one host, a PostgreSQL table for many.
 */
export interface ConnectionMap {
  get(owner: string, integration: string): Promise<string | null>;
  set(owner: string, integration: string, connectionId: string): Promise<void>;
  delete(owner: string, integration: string): Promise<void>;
  /** Owners recorded for this connection (a webhook that names no end user). */
  ownersOf(integration: string, connectionId: string): Promise<string[]>;
}
