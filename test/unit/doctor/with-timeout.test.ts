import { describe, expect, it } from 'vitest';
import { CheckTimeoutError, withTimeout } from '../../../src/doctor/with-timeout.js';

describe('withTimeout', () => {
  it('gives the answer when it comes in time', async () => {
    await expect(withTimeout(new AbortController().signal, 1000, async () => 42)).resolves.toBe(42);
  });

  it('rejects with CheckTimeoutError and aborts the work when the time runs out', async () => {
    let seen: AbortSignal | null = null;
    const never = (signal: AbortSignal) => {
      seen = signal;
      return new Promise<never>(() => {});
    };
    await expect(withTimeout(new AbortController().signal, 20, never)).rejects.toBeInstanceOf(
      CheckTimeoutError,
    );
    expect(seen!.aborted).toBe(true);
  });

  it('passes the caller abort on to the work', async () => {
    const controller = new AbortController();
    const work = (signal: AbortSignal) =>
      new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    const running = withTimeout(controller.signal, 10_000, work);
    controller.abort(new Error('interrupted'));
    await expect(running).rejects.toThrow('interrupted');
  });

  it('refuses to start when already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    await expect(withTimeout(controller.signal, 1000, async () => 1)).rejects.toThrow('gone');
  });
});
