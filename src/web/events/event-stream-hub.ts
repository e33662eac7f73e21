import type { EventStream } from '../server/route.js';
import type { EventLog, LoggedEvent } from './event-log.js';

export const HEARTBEAT_INTERVAL_MS = 15_000;
/** How long browsers wait before reconnecting. */
const RETRY_MS = 2_000;

/** One SSE message. Data is JSON on one line, so no event can inject fields of its own. */
export function formatSseEvent(entry: LoggedEvent): string {
  return `id: ${entry.id}\nevent: ${entry.event.type}\ndata: ${JSON.stringify(entry.event)}\n\n`;
}

/**
 * Every open `/api/events` stream: replay from the log, then live events, and one heartbeat timer for
 * all streams (a comment line, so proxies and browsers keep the connection open).
 */
export class EventStreamHub {
  readonly #log: EventLog;
  readonly #streams = new Set<EventStream>();
  readonly #heartbeatMs: number;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(log: EventLog, options: { heartbeatMs?: number } = {}) {
    this.#log = log;
    this.#heartbeatMs = options.heartbeatMs ?? HEARTBEAT_INTERVAL_MS;
  }

  get size(): number {
    return this.#streams.size;
  }

  /**
   * Starts a stream: what it missed since `lastEventId` (a reconnect), then everything new until it
   * closes. A first connection gets no history: old prompts must not pop up on a page just opened.
   */
  attach(stream: EventStream, lastEventId: string | null): void {
    if (this.#closed) {
      stream.close();
      return;
    }
    stream.write(`retry: ${RETRY_MS}\n: connected\n\n`);
    if (lastEventId !== null) {
      const replay = this.#log.since(lastEventId);
      if (replay.gap) stream.write(`event: gap\ndata: {}\n\n`);
      for (const entry of replay.events) stream.write(formatSseEvent(entry));
    }
    const unsubscribe = this.#log.subscribe((entry) => {
      if (!stream.write(formatSseEvent(entry))) stream.close();
    });
    this.#streams.add(stream);
    stream.onClose(() => {
      unsubscribe();
      this.#streams.delete(stream);
      if (this.#streams.size === 0) this.#stopHeartbeat();
    });
    this.#startHeartbeat();
  }

  /** Ends every stream and the heartbeat. */
  close(): void {
    this.#closed = true;
    for (const stream of [...this.#streams]) stream.close();
    this.#stopHeartbeat();
  }

  #startHeartbeat(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => {
      for (const stream of [...this.#streams]) {
        if (!stream.write(': heartbeat\n\n')) stream.close();
      }
    }, this.#heartbeatMs);
    this.#timer.unref();
  }

  #stopHeartbeat(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}
