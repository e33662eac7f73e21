import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { EventBus } from '../../events/event-bus.js';
import type { NanoclawEvent } from '../../events/types.js';
import { StoreError, type StoreErrorCode } from '../store-errors.js';
import { loadDriver, type PostgresDatabase } from './postgres-database.js';
import {
  decodeSharedEvent,
  encodeSharedEvent,
  MAX_SHARED_EVENT_BYTES,
  SHARED_EVENT_TYPES,
} from './shared-events.js';

/** The LISTEN/NOTIFY channel the hosts share. */
export const EVENT_CHANNEL = 'nanoclaw_events';
/** The most events one statement sends (each at most MAX_SHARED_EVENT_BYTES). */
const MAX_EVENTS_PER_STATEMENT = 100;
/** Sends each payload of an array, in order, as a notification of the channel. */
const NOTIFY_EACH = 'SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload';

export interface PgEventChannelOptions {
  db: PostgresDatabase;
  events: EventBus;
  /**
   * Trouble with the channel (PostgreSQL out of reach, an event too big to send, another host's event
   * not understood), already without the password or any event's content.
   */
  onError?: (error: unknown) => void;
  /** Told when listening (again) after a connection: events raised meanwhile elsewhere were missed. */
  onListening?: () => void;
  reconnectMs?: { first: number; max: number };
}

/**
 * Carries `auth_required`, `token_synced` and `token_needs_auth` between the hosts' event buses with
 * PostgreSQL's LISTEN/NOTIFY: what this host raises goes out (`pg_notify`), what others raise is
 * emitted on this host's bus as it was raised there, so its page's stream (and its replay) holds
 * both. One listening connection, opened again with backoff whenever it breaks. One statement sends
 * at a time: events raised while it runs go together in the next, in the order they were raised, so a
 * wave of refreshes costs a statement per batch rather than per event.
 */
export class PgEventChannel {
  readonly hostId = randomBytes(8).toString('hex');
  readonly #db: PostgresDatabase;
  readonly #events: EventBus;
  readonly #onError: (error: unknown) => void;
  readonly #onListening: () => void;
  readonly #reconnect: { first: number; max: number };
  #unsubscribe: (() => void) | null = null;
  #client: pg.Client | null = null;
  #timer: NodeJS.Timeout | null = null;
  #delayMs: number;
  #relaying = false;
  #closed = false;
  #sequence = 0;
  /** Payloads waiting for the statement in flight to end. */
  #outbox: string[] = [];
  #sending: Promise<void> | null = null;

  private constructor(options: PgEventChannelOptions) {
    this.#db = options.db;
    this.#events = options.events;
    this.#onError = options.onError ?? (() => {});
    this.#onListening = options.onListening ?? (() => {});
    this.#reconnect = options.reconnectMs ?? { first: 250, max: 10_000 };
    this.#delayMs = this.#reconnect.first;
  }

  /** Starts sending at once; listening starts now and is retried in the background if it fails. */
  static async start(options: PgEventChannelOptions): Promise<PgEventChannel> {
    const channel = new PgEventChannel(options);
    channel.#unsubscribe = options.events.subscribe((event) => channel.#send(event));
    await channel.#listen();
    return channel;
  }

  get listening(): boolean {
    return this.#client !== null;
  }

  #send(event: NanoclawEvent): void {
    if (this.#relaying || this.#closed || !SHARED_EVENT_TYPES.has(event.type)) return;
    const encoded = encodeSharedEvent(this.hostId, event, this.#sequence++);
    if (!encoded.ok) {
      this.#onError(
        new StoreError(
          'STORE_WRITE_FAILED',
          `a ${event.type} event of ${encoded.bytes} bytes is over the ${MAX_SHARED_EVENT_BYTES} bytes PostgreSQL's NOTIFY carries: pages on other hosts do not see it`,
        ),
      );
      return;
    }
    this.#outbox.push(encoded.payload);
    this.#sending ??= this.#drain();
  }

  /**
   * Sends what waits, a statement at a time. When one fails (PostgreSQL out of reach: it took up to
   * the connect timeout to tell), the events raised meanwhile are dropped with it rather than sent
   * late one statement after another, so neither the queue nor a `close` waits on an outage.
   */
  async #drain(): Promise<void> {
    try {
      while (this.#outbox.length > 0) {
        const batch = this.#outbox.splice(0, MAX_EVENTS_PER_STATEMENT);
        try {
          await this.#db.query(NOTIFY_EACH, [EVENT_CHANNEL, batch], 'STORE_WRITE_FAILED');
        } catch (error) {
          const dropped = batch.length + this.#outbox.splice(0).length;
          const code = error instanceof StoreError ? (error.code as StoreErrorCode) : 'STORE_WRITE_FAILED';
          // Why, as a code (ECONNREFUSED, a SQLSTATE): the store's own message promises a retry these events do not get.
          const reason = (error as { cause?: { code?: unknown } }).cause?.code ?? code;
          this.#onError(
            new StoreError(
              code,
              `${dropped} event${dropped === 1 ? '' : 's'} raised on this host did not reach the other hosts: ${this.#db.where} did not take them (${String(reason)})`,
              { cause: error },
            ),
          );
        }
      }
    } finally {
      this.#sending = null;
    }
  }

  #receive(message: pg.Notification): void {
    if (message.channel !== EVENT_CHANNEL || message.payload === undefined) return;
    const decoded = decodeSharedEvent(message.payload);
    if (!decoded.ok) {
      this.#onError(
        new StoreError(
          'STORE_UNREADABLE',
          `an event from another host was dropped: ${decoded.problem} (a host running another version of nanoclaw?)`,
        ),
      );
      return;
    }
    const shared = decoded.shared;
    if (shared.origin === this.hostId) return;
    this.#relaying = true;
    try {
      this.#events.emit(shared.event);
    } finally {
      this.#relaying = false;
    }
  }

  async #listen(): Promise<void> {
    if (this.#closed) return;
    const driver = await loadDriver();
    if (this.#closed) return;
    const client = new driver.Client({
      connectionString: this.#db.url,
      connectionTimeoutMillis: 5_000,
      application_name: 'nanoclaw-events',
    });
    let lost = false;
    const onLost = (error?: unknown) => {
      if (lost) return;
      lost = true;
      if (this.#client === client) this.#client = null;
      client.removeAllListeners('notification');
      void client.end().catch(() => {});
      if (this.#closed) return;
      if (error) this.#onError(this.#db.unavailable(error));
      this.#schedule();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (message) => this.#receive(message));
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENT_CHANNEL}`);
    } catch (error) {
      onLost(error);
      return;
    }
    if (this.#closed) {
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
    this.#delayMs = this.#reconnect.first;
    this.#onListening();
  }

  #schedule(): void {
    if (this.#closed || this.#timer !== null) return;
    const delay = this.#delayMs;
    this.#delayMs = Math.min(this.#delayMs * 2, this.#reconnect.max);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#listen();
    }, delay);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe?.();
    // What this host raised before closing still goes out.
    await this.#sending;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const client = this.#client;
    this.#client = null;
    await client?.end().catch(() => {});
  }
}
