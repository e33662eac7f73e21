import type { Clock, TimerHandle } from '../../src/daemon/clock.js';

interface ManualTimer {
  dueAt: number;
  callback: () => void;
}

/**
 * A `Clock` that only moves when the test says: hours of refresher schedule (backoff, retries) pass
 * in milliseconds, while everything else (HTTP to a fake source, token files) stays real.
 */
export class ManualClock implements Clock {
  readonly #timers = new Map<TimerHandle, ManualTimer>();
  #now: number;

  constructor(start: number = Date.now()) {
    this.#now = Math.floor(start);
  }

  now = (): number => this.#now;

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const handle = {};
    this.#timers.set(handle, { dueAt: this.#now + Math.max(0, ms), callback });
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle);
  }

  /** Timers set and not yet run or cleared. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** When the earliest timer is due, or null when none is set. */
  nextDueAt(): number | null {
    let earliest: number | null = null;
    for (const timer of this.#timers.values()) {
      if (earliest === null || timer.dueAt < earliest) earliest = timer.dueAt;
    }
    return earliest;
  }

  /** Moves time forward without running anything (time a process spends elsewhere). */
  skip(ms: number): void {
    this.#now += ms;
  }

  /**
   * Moves time to the earliest timer (rounded up to a whole millisecond, as real time reads) and
   * runs every timer due by then; returns the new time.
   */
  fireNext(): number {
    const dueAt = this.nextDueAt();
    if (dueAt === null) throw new Error('no timer is set');
    this.#now = Math.max(this.#now, Math.ceil(dueAt));
    for (const [handle, timer] of [...this.#timers]) {
      if (timer.dueAt > this.#now) continue;
      this.#timers.delete(handle);
      timer.callback();
    }
    return this.#now;
  }
}

/** Polls (on real time) until `check` holds; for work a fake-clock timer started that does real I/O. */
export async function settle(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
