import { describe, expect, it } from 'vitest';
import { DueQueue, type DueItem } from '../../../src/daemon/due-queue.js';

interface Item extends DueItem {
  name: string;
}
const item = (name: string): Item => ({ name, dueAt: 0, queueIndex: -1 });

describe('DueQueue', () => {
  it('pops items in due order, with updates and removals in between', () => {
    const queue = new DueQueue<Item>();
    const items = Array.from({ length: 500 }, (_, index) => item(`item-${index}`));
    let seed = 42;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 1e6;
    for (const entry of items) queue.schedule(entry, random());
    for (const entry of items.slice(0, 100)) queue.schedule(entry, random());
    for (const entry of items.slice(100, 150)) expect(queue.remove(entry)).toBe(true);
    expect(queue.size).toBe(450);

    const popped: number[] = [];
    for (let next = queue.pop(); next; next = queue.pop()) popped.push(next.dueAt);
    expect(popped).toHaveLength(450);
    expect(popped).toEqual([...popped].sort((a, b) => a - b));
    expect(items.every((entry) => entry.queueIndex === -1)).toBe(true);
  });

  it('knows which items it holds', () => {
    const queue = new DueQueue<Item>();
    const a = item('a');
    const b = item('b');
    queue.schedule(a, 5);
    expect(queue.has(a)).toBe(true);
    expect(queue.has(b)).toBe(false);
    expect(queue.remove(b)).toBe(false);
    queue.schedule(b, 1);
    expect(queue.peek()).toBe(b);
    queue.schedule(b, 10);
    expect(queue.peek()).toBe(a);
    queue.clear();
    expect(queue.size).toBe(0);
    expect(queue.has(a)).toBe(false);
  });
});
