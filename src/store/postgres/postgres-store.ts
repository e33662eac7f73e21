import type { EventBus } from '../../events/event-bus.js';
import { PgConnectionMap } from './pg-connection-map.js';
import { PgEventChannel } from './pg-event-channel.js';
import { PgGrantRecords } from './pg-grant-records.js';
import { PgPageSessions } from './pg-page-sessions.js';
import { PgPendingAuthorizations } from './pg-pending-authorizations.js';
import { PostgresDatabase } from './postgres-database.js';

export interface PostgresStoreOptions {
  url: string;
  /** Background trouble (a lost connection, a session not recorded), without the password. */
  onError?: (error: unknown) => void;
  /** How long to wait for another host's refresh of the same grant. */
  lockTimeoutMs?: number;
  poolSize?: number;
  lockPoolSize?: number;
}

/** Everything the hosts share in one PostgreSQL database; one owner of its connections. */
export class PostgresStore {
  readonly db: PostgresDatabase;
  readonly grants: PgGrantRecords;
  readonly pending: PgPendingAuthorizations;
  readonly connections: PgConnectionMap;
  readonly sessions: PgPageSessions;
  readonly #onError: (error: unknown) => void;
  readonly #channels = new Set<PgEventChannel>();

  constructor(options: PostgresStoreOptions) {
    this.#onError = options.onError ?? (() => {});
    this.db = new PostgresDatabase({
      url: options.url,
      onError: this.#onError,
      ...(options.poolSize !== undefined ? { poolSize: options.poolSize } : {}),
      ...(options.lockPoolSize !== undefined ? { lockPoolSize: options.lockPoolSize } : {}),
    });
    this.grants = new PgGrantRecords(
      this.db,
      options.lockTimeoutMs !== undefined ? { lockTimeoutMs: options.lockTimeoutMs } : {},
    );
    this.pending = new PgPendingAuthorizations(this.db);
    this.connections = new PgConnectionMap(this.db);
    this.sessions = new PgPageSessions(this.db, { onError: this.#onError });
  }

  /** PostgreSQL's address without the password. */
  get where(): string {
    return this.db.where;
  }

  /** Connects and applies the schema (under its lock); throws STORE_UNAVAILABLE when out of reach. */
  ready(): Promise<void> {
    return this.db.ready();
  }

  /** Carries the shared events between this bus and the other hosts' until `close`. */
  async shareEvents(events: EventBus): Promise<PgEventChannel> {
    const channel = await PgEventChannel.start({ db: this.db, events, onError: this.#onError });
    this.#channels.add(channel);
    return channel;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#channels].map((channel) => channel.close()));
    this.#channels.clear();
    await this.sessions.close();
    await this.db.close();
  }
}
