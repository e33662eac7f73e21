import { describe, expect, it } from 'vitest';
import { settleWithin } from '../../../src/async/abort.js';

describe('settleWithin', () => {
  it('is true when the work settles in time, failed or not', async () => {
    expect(await settleWithin(Promise.resolve('done'), 1_000)).toBe(true);
    expect(await settleWithin(Promise.reject(new Error('failed')), 1_000)).toBe(true);
  });

  it('is false once the time is up, and leaves the work alone', async () => {
    let finish!: () => void;
    const work = new Promise<void>((resolve) => (finish = resolve));
    expect(await settleWithin(work, 20)).toBe(false);
    finish();
    await expect(work).resolves.toBeUndefined();
  });
});
