import { setTimeout as sleep } from 'node:timers/promises';

/** How a bounded wait ended. */
export type WaitOutcome<T> = { status: 'done'; value: T } | { status: 'timeout' } | { status: 'interrupted' };

export interface WaitOptions {
  timeoutMs: number;
  /** Ctrl-C. */
  signal: AbortSignal;
}

export interface PollOptions extends WaitOptions {
  intervalMs: number;
  /** A failed check (a source that is briefly away); polling goes on. */
  onError?: (error: unknown) => void;
}

const TIMED_OUT = Symbol('timed out');

/**
 * One controller for one wait: aborted by the caller's signal, by the deadline, or when the wait
 * ends, so no timer or listener outlives it.
 */
function boundedWait(options: WaitOptions) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(TIMED_OUT), options.timeoutMs);
  const onAbort = () => controller.abort(options.signal.reason);
  if (options.signal.aborted) onAbort();
  else options.signal.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    ended<T>(): WaitOutcome<T> {
      return controller.signal.reason === TIMED_OUT ? { status: 'timeout' } : { status: 'interrupted' };
    },
    dispose() {
      clearTimeout(timer);
      options.signal.removeEventListener('abort', onAbort);
      controller.abort();
    },
  };
}

/**
 * Calls `check` at once and then every `intervalMs` until it gives a value, the time is up, or the
 * signal aborts. A check still running at the deadline is cancelled through its signal.
 */
export async function pollUntil<T>(
  check: (signal: AbortSignal) => Promise<T | null>,
  options: PollOptions,
): Promise<WaitOutcome<T>> {
  const wait = boundedWait(options);
  try {
    while (!wait.signal.aborted) {
      try {
        const value = await check(wait.signal);
        if (value !== null) return { status: 'done', value };
      } catch (error) {
        if (wait.signal.aborted) break;
        options.onError?.(error);
      }
      await sleep(options.intervalMs, undefined, { signal: wait.signal }).catch(() => {});
    }
    return wait.ended();
  } finally {
    wait.dispose();
  }
}
