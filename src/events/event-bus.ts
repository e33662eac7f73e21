import type { NanoclawEvent, NewEvent } from './types.js';

export type EventListener = (event: NanoclawEvent) => void;

/**
 * The typed, synchronous event bus. Listeners are isolated: one that throws does not stop the others
 * or the emitter, and `subscribe` returns the one way to remove a listener.
 */
export class EventBus {
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

  get listenerCount(): number {
    return this.#listeners.size;
  }
}
