import { createHash } from 'node:crypto';

export interface WebhookReplayGuardOptions {
  /** How long a delivery is remembered. */
  windowMs?: number;
  /** Most deliveries remembered; the oldest are forgotten first. */
  capacity?: number;
  now?: () => number;
}

/**
 * Nango's webhooks carry no timestamp or id, so a signed body stays valid for ever. This remembers
 * the bodies seen recently (by digest, in bounded memory) so the same delivery is acted on once
 * within the window. A delivery whose handling failed is forgotten, so Nango's own retry is taken.
 */
export class WebhookReplayGuard {
  readonly #windowMs: number;
  readonly #capacity: number;
  readonly #now: () => number;
  /** Digest -> when it was seen, oldest first (a Map keeps insertion order). */
  readonly #seen = new Map<string, number>();

  constructor(options: WebhookReplayGuardOptions = {}) {
    this.#windowMs = options.windowMs ?? 10 * 60_000;
    this.#capacity = options.capacity ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** Takes a delivery; false when the same body was taken within the window. */
  admit(rawBody: Buffer): { admitted: false } | { admitted: true; forget: () => void } {
    const now = this.#now();
    this.#expire(now);
    const digest = createHash('sha256').update(rawBody).digest('hex');
    if (this.#seen.has(digest)) return { admitted: false };
    this.#seen.set(digest, now);
    while (this.#seen.size > this.#capacity) {
      const oldest = this.#seen.keys().next().value;
      if (oldest === undefined) break;
      this.#seen.delete(oldest);
    }
    return {
      admitted: true,
      forget: () => {
        if (this.#seen.get(digest) === now) this.#seen.delete(digest);
      },
    };
  }

  get size(): number {
    return this.#seen.size;
  }

  #expire(now: number): void {
    for (const [digest, seenAt] of this.#seen) {
      if (now - seenAt < this.#windowMs) break;
      this.#seen.delete(digest);
    }
  }
}
