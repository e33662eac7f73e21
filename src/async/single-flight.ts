interface Flight<V> {
  running: Promise<V>;
  /** False while the running call waits for its turn (this tick's end): fresh callers may still join it. */
  started: boolean;
  /** A fresh call asked for after `running` started: it starts once `running` has settled. */
  next: { work: () => Promise<V>; promise: Promise<V>; settle: (result: Promise<V>) => void } | null;
}

/**
 * At most one call in flight per key. `run` shares the call in flight; `runFresh` is for callers
 * that need a call started after they asked (an authorization just completed, say): they share one
 * that has not started yet, or wait for the one in flight and then start their own.
 */
export class SingleFlight<V> {
  readonly #flights = new Map<string, Flight<V>>();

  /** The result of the call in flight for `key`, or of `work`, started now when there is none. */
  run(key: string, work: () => Promise<V>): Promise<V> {
    const flight = this.#flights.get(key);
    if (flight) return flight.running;
    const created = this.#create(key);
    created.running = this.#launch(key, created, work);
    return created.running;
  }

  /**
   * The result of a call that starts no earlier than now. With nothing in flight it starts at the end
   * of this tick, so fresh callers that ask together share it; later `run` callers may share it too.
   */
  runFresh(key: string, work: () => Promise<V>): Promise<V> {
    const flight = this.#flights.get(key);
    if (!flight) {
      const created = this.#create(key);
      created.running = Promise.resolve().then(() => this.#launch(key, created, work));
      return created.running;
    }
    if (!flight.started) return flight.running;
    if (!flight.next) {
      let settle!: (result: Promise<V>) => void;
      const promise = new Promise<V>((resolve) => (settle = resolve));
      flight.next = { work, promise, settle };
    }
    return flight.next.promise;
  }

  get size(): number {
    return this.#flights.size;
  }

  /** Settles once no call is in flight or waiting to start, whatever their results. */
  async idle(): Promise<void> {
    while (this.#flights.size > 0) {
      const flights = [...this.#flights.values()];
      await Promise.allSettled(flights.flatMap((flight) => [flight.running, flight.next?.promise]));
    }
  }

  #create(key: string): Flight<V> {
    // `running` is set by the caller before anything can read it.
    const flight = { started: false, next: null } as Flight<V>;
    this.#flights.set(key, flight);
    return flight;
  }

  #launch(key: string, flight: Flight<V>, work: () => Promise<V>): Promise<V> {
    flight.started = true;
    let started: Promise<V>;
    try {
      started = work();
    } catch (error) {
      started = Promise.reject(error);
    }
    return started.finally(() => {
      const next = flight.next;
      if (!next) {
        this.#flights.delete(key);
        return;
      }
      flight.next = null;
      flight.running = this.#launch(key, flight, next.work);
      next.settle(flight.running);
    });
  }
}
