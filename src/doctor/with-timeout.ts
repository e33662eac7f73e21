/** Thrown into a check when it ran past its time. */
export class CheckTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs < 1000 ? `${timeoutMs}ms` : `${Math.round(timeoutMs / 1000)}s`}`);
    this.name = 'CheckTimeoutError';
  }
}

/**
 * Runs `work` with a signal that aborts when `signal` does or after `timeoutMs`. The timer and the
 * listener end with the call, so a quick check leaves nothing behind.
 */
export async function withTimeout<T>(
  signal: AbortSignal,
  timeoutMs: number,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  signal.throwIfAborted();
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new CheckTimeoutError(timeoutMs);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    // Racing the timer as well: not every client stops when its signal aborts.
    return await Promise.race([work(controller.signal), timedOut]);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    controller.abort();
  }
}
