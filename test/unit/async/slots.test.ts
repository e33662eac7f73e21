import { describe, expect, it } from 'vitest';
import { Slots, SlotWaitTimeoutError } from '../../../src/async/slots.js';

const NEVER = new AbortController().signal;

describe('Slots', () => {
  it('hands a released slot to the first waiter, in turn', async () => {
    const slots = new Slots(1);
    const first = await slots.acquire(NEVER, 1_000);
    const order: string[] = [];
    const second = slots.acquire(NEVER, 1_000).then((release) => (order.push('second'), release));
    const third = slots.acquire(NEVER, 1_000).then((release) => (order.push('third'), release));
    first();
    first(); // a second release gives nothing back twice
    (await second)();
    (await third)();
    expect(order).toEqual(['second', 'third']);
  });

  it('stops waiting after its time or when its signal aborts, and keeps the slot count right', async () => {
    const slots = new Slots(1);
    const held = await slots.acquire(NEVER, 1_000);
    await expect(slots.acquire(NEVER, 20)).rejects.toBeInstanceOf(SlotWaitTimeoutError);
    const controller = new AbortController();
    const aborted = slots.acquire(controller.signal, 60_000);
    controller.abort(new Error('closing'));
    await expect(aborted).rejects.toThrow('closing');
    held();
    // The waiters that gave up took nothing: the slot is free again.
    const again = await slots.acquire(NEVER, 20);
    again();
  });
});
