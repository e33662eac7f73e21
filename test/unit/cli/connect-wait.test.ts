import { describe, expect, it } from 'vitest';
import { pollUntil } from '../../../src/cli/connect-wait.js';

const never = () => new AbortController().signal;

describe('pollUntil', () => {
  it('checks at once, then every interval, until a value comes', async () => {
    let calls = 0;
    const outcome = await pollUntil(async () => (++calls === 3 ? 'found' : null), {
      intervalMs: 5,
      timeoutMs: 5_000,
      signal: never(),
    });
    expect(outcome).toEqual({ status: 'done', value: 'found' });
    expect(calls).toBe(3);
  });

  it('keeps going after a failed check, telling onError', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const outcome = await pollUntil(
      async () => {
        calls++;
        if (calls === 1) throw new Error('briefly away');
        return calls === 2 ? 42 : null;
      },
      { intervalMs: 5, timeoutMs: 5_000, signal: never(), onError: (error) => errors.push(error) },
    );
    expect(outcome).toEqual({ status: 'done', value: 42 });
    expect(errors).toHaveLength(1);
  });

  it('times out, cancelling a check still running at the deadline', async () => {
    let cancelled = false;
    const outcome = await pollUntil(
      (signal) =>
        new Promise<null>((_resolve, reject) =>
          signal.addEventListener('abort', () => {
            cancelled = true;
            reject(signal.reason);
          }),
        ),
      { intervalMs: 5, timeoutMs: 30, signal: never() },
    );
    expect(outcome).toEqual({ status: 'timeout' });
    expect(cancelled).toBe(true);
  });

  it('is interrupted by the signal, and at once when it is already aborted', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    expect(
      await pollUntil(async () => null, { intervalMs: 5, timeoutMs: 5_000, signal: controller.signal }),
    ).toEqual({ status: 'interrupted' });
    let calls = 0;
    expect(
      await pollUntil(async () => ++calls, { intervalMs: 5, timeoutMs: 5_000, signal: controller.signal }),
    ).toEqual({ status: 'interrupted' });
    expect(calls).toBe(0);
  });
});
