/** An opaque timer handle from a `Clock`. */
export type TimerHandle = { readonly __timer: unique symbol } | object;

/** Time and timers behind one seam, so schedulers run on a fake clock in tests. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The real clock. Timers are unref'd: a scheduler's timer alone never keeps the process alive, so a
 * forgotten dispose cannot hang shutdown (the owner still clears it).
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Longest delay `setTimeout` honours (about 24.8 days); longer ones fire at once. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;
