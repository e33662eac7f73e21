import { randomBytes } from 'node:crypto';
import type { EventBus } from '../../events/event-bus.js';
import type { NanoclawEvent } from '../../events/types.js';

/** An event with the id it goes out under on `/api/events`. */
export interface LoggedEvent {
  id: string;
  event: NanoclawEvent;
}

export interface Replay {
  events: LoggedEvent[];
  /** The client missed events that already left the buffer (or came from an earlier daemon run). */
  gap: boolean;
}

export const DEFAULT_EVENT_LOG_CAPACITY = 1000;

/**
 * The last N events from the bus, in a fixed ring, with ids `<run>-<sequence>` so a reconnecting page
 * (`Last-Event-ID`) gets exactly what it missed, and one from before a restart learns it missed some.
 */
export class EventLog {
  readonly #capacity: number;
  readonly #ring: (LoggedEvent | undefined)[];
  readonly #run = randomBytes(4).toString('hex');
  readonly #listeners = new Set<(entry: LoggedEvent) => void>();
  readonly #unsubscribe: () => void;
  /** Sequence number of the next event; the ring holds the last `capacity` of them. */
  #next = 1;

  constructor(events: EventBus, capacity = DEFAULT_EVENT_LOG_CAPACITY) {
    this.#capacity = capacity;
    this.#ring = new Array<LoggedEvent | undefined>(capacity);
    this.#unsubscribe = events.subscribe((event) => this.#append(event));
  }

  /** The id of the newest event, or null when there is none yet. */
  get lastId(): string | null {
    return this.#next === 1 ? null : this.#idOf(this.#next - 1);
  }

  /** Events after `lastEventId`; everything held when the id is unknown or from an earlier run. */
  since(lastEventId: string | null): Replay {
    const oldest = Math.max(1, this.#next - this.#capacity);
    let from = oldest;
    let gap = false;
    if (lastEventId !== null) {
      const match = /^([0-9a-f]{8})-(\d{1,15})$/.exec(lastEventId);
      const sequence = match && match[1] === this.#run ? Number(match[2]) : null;
      if (sequence === null || sequence >= this.#next) gap = true;
      else if (sequence + 1 < oldest) gap = true;
      else from = sequence + 1;
    }
    const events: LoggedEvent[] = [];
    for (let sequence = from; sequence < this.#next; sequence++) {
      events.push(this.#ring[sequence % this.#capacity]!);
    }
    return { events, gap };
  }

  /** Listens to new events; returns the one way to stop. */
  subscribe(listener: (entry: LoggedEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  get subscriberCount(): number {
    return this.#listeners.size;
  }

  dispose(): void {
    this.#unsubscribe();
    this.#listeners.clear();
  }

  #idOf(sequence: number): string {
    return `${this.#run}-${sequence}`;
  }

  #append(event: NanoclawEvent): void {
    const sequence = this.#next++;
    const entry = { id: this.#idOf(sequence), event };
    this.#ring[sequence % this.#capacity] = entry;
    for (const listener of [...this.#listeners]) listener(entry);
  }
}
