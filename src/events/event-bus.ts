import type { NanoclawEvent, NewEvent } from './types.js';

export type EventListener = (event: NanoclawEvent) => void;

export type EventType = NanoclawEvent['type'];
/** The event of one type, e.g. `EventOf<'auth_required'>`. */
export type EventOf<T extends EventType> = Extract<NanoclawEvent, { type: T }>;

/** What a library user may do with the bus: listen, and stop listening. */
export interface EventSubscriptions {
  /** Every event; returns the one way to stop listening. */
  subscribe(listener: EventListener): () => void;
  /** Events of one type, typed; returns the one way to stop listening. */
  on<T extends EventType>(type: T, listener: (event: EventOf<T>) => void): () => void;
}

/**
 * The typed, synchronous event bus. Listeners are isolated: one that throws does not stop the others
 * or the emitter, and `subscribe` returns the one way to remove a listener.
 */
export class EventBus implements EventSubscriptions {
  readonly #listeners = new Set<EventListener>();

  constructor(private readonly onListenerError: (error: unknown) => void = () => {}) {}

  emit(event: NewEvent): NanoclawEvent {
    const stamped = { ...event, at: event.at ?? new Date().toISOString() } as NanoclawEvent;
    for (const listener of [...this.#listeners]) {
      try {
        listener(stamped);
      } catch (error) {
        this.onListenerError(error);
      }
    }
    return stamped;
  }

  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  on<T extends EventType>(type: T, listener: (event: EventOf<T>) => void): () => void {
    return this.subscribe((event) => {
      if (event.type === type) listener(event as EventOf<T>);
    });
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }
}
