/** No slot came free within the time the caller would wait. */
export class SlotWaitTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`no slot came free within ${timeoutMs} ms`);
    this.name = 'SlotWaitTimeoutError';
  }
}

/**
 * At most `size` holders at once; the others wait in turn, each for at most its own time and
 * only until its signal aborts. A released slot goes straight to the next waiter.
 */
export class Slots {
  #free: number;
  readonly #waiting: Array<() => void> = [];

  constructor(size: number) {
    this.#free = size;
  }

  /** Resolves with the function that gives the slot back (once; later calls do nothing). */
  async acquire(signal: AbortSignal, timeoutMs: number): Promise<() => void> {
    signal.throwIfAborted();
    if (this.#free > 0) {
      this.#free--;
      return this.#releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const stop = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        const index = this.#waiting.indexOf(granted);
        if (index >= 0) this.#waiting.splice(index, 1);
      };
      const granted = () => {
        stop();
        resolve();
      };
      const onAbort = () => {
        stop();
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        stop();
        reject(new SlotWaitTimeoutError(timeoutMs));
      }, timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(granted);
    });
    return this.#releaser();
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    };
  }
}
