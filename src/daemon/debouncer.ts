/**
 * Runs work per key once things have been quiet for `delayMs`: a burst of file events on one path
 * becomes one look at the file. `close` cancels what is pending.
 */
export class Debouncer {
  readonly #timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly delayMs: number) {}

  schedule(key: string, work: () => void): void {
    const existing = this.#timers.get(key);
    if (existing) clearTimeout(existing);
    this.#timers.set(
      key,
      setTimeout(() => {
        this.#timers.delete(key);
        work();
      }, this.delayMs),
    );
  }

  get pending(): number {
    return this.#timers.size;
  }

  close(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
