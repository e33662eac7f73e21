/** An item the queue orders by `dueAt`; `queueIndex` is the queue's own bookkeeping. */
export interface DueItem {
  dueAt: number;
  queueIndex: number;
}

/**
 * A binary min-heap on `dueAt` with O(log n) insert, update and remove: the refresher's one ordered
 * schedule, however many tokens it holds. `queueIndex` is -1 while an item is not queued.
 */
export class DueQueue<T extends DueItem> {
  readonly #heap: T[] = [];

  get size(): number {
    return this.#heap.length;
  }

  peek(): T | undefined {
    return this.#heap[0];
  }

  has(item: T): boolean {
    return item.queueIndex >= 0 && this.#heap[item.queueIndex] === item;
  }

  /** Queues the item at `dueAt`, or moves it there when it is already queued. */
  schedule(item: T, dueAt: number): void {
    if (!this.has(item)) {
      item.dueAt = dueAt;
      item.queueIndex = this.#heap.length;
      this.#heap.push(item);
      this.#siftUp(item.queueIndex);
      return;
    }
    const earlier = dueAt < item.dueAt;
    item.dueAt = dueAt;
    if (earlier) this.#siftUp(item.queueIndex);
    else this.#siftDown(item.queueIndex);
  }

  pop(): T | undefined {
    const top = this.#heap[0];
    if (top) this.remove(top);
    return top;
  }

  remove(item: T): boolean {
    if (!this.has(item)) return false;
    const index = item.queueIndex;
    const last = this.#heap.pop()!;
    item.queueIndex = -1;
    if (last !== item) {
      this.#heap[index] = last;
      last.queueIndex = index;
      this.#siftUp(index);
      this.#siftDown(last.queueIndex);
    }
    return true;
  }

  clear(): void {
    for (const item of this.#heap) item.queueIndex = -1;
    this.#heap.length = 0;
  }

  #siftUp(start: number): void {
    let index = start;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (this.#heap[parent]!.dueAt <= this.#heap[index]!.dueAt) break;
      this.#swap(index, parent);
      index = parent;
    }
  }

  #siftDown(start: number): void {
    let index = start;
    const length = this.#heap.length;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < length && this.#heap[left]!.dueAt < this.#heap[smallest]!.dueAt) smallest = left;
      if (right < length && this.#heap[right]!.dueAt < this.#heap[smallest]!.dueAt) smallest = right;
      if (smallest === index) return;
      this.#swap(index, smallest);
      index = smallest;
    }
  }

  #swap(a: number, b: number): void {
    const first = this.#heap[a]!;
    const second = this.#heap[b]!;
    this.#heap[a] = second;
    this.#heap[b] = first;
    first.queueIndex = b;
    second.queueIndex = a;
  }
}
