import { timingSafeEqual } from 'node:crypto';
import {
  hashBinding,
  isBrowserBinding,
  PENDING_AUTHORIZATION_TTL_MS,
  type ConsumeOutcome,
  type PendingAuthorization,
  type PendingAuthorizationStore,
} from '../pending-authorizations.js';

export interface PendingAuthorizationsOptions {
  ttlMs?: number;
  /** More started-but-unfinished authorizations than this push out the oldest. */
  maxPending?: number;
  now?: () => number;
}

/** Checks a stored entry against the callback's provider and browser. */
export function judgeConsumed(
  entry: PendingAuthorization & { bindingHash: Buffer },
  provider: string,
  browserBinding: string | null,
  now: number,
): ConsumeOutcome {
  if (entry.expiresAt <= now) return { ok: false, reason: 'expired', owner: entry.owner };
  if (entry.provider !== provider) return { ok: false, reason: 'wrong_provider', owner: entry.owner };
  if (
    !isBrowserBinding(browserBinding) ||
    entry.bindingHash.length !== 32 ||
    !timingSafeEqual(hashBinding(browserBinding), entry.bindingHash)
  ) {
    return { ok: false, reason: 'wrong_browser', owner: entry.owner };
  }
  const { bindingHash: _bindingHash, ...pending } = entry;
  return { ok: true, pending };
}

/** Pending authorizations in memory: one daemon process owns its flows (the file store's choice). */
export class PendingAuthorizations implements PendingAuthorizationStore {
  readonly #entries = new Map<string, PendingAuthorization & { bindingHash: Buffer }>();
  readonly #ttlMs: number;
  readonly #maxPending: number;
  readonly #now: () => number;

  constructor(options: PendingAuthorizationsOptions = {}) {
    this.#ttlMs = options.ttlMs ?? PENDING_AUTHORIZATION_TTL_MS;
    this.#maxPending = options.maxPending ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  add(entry: Omit<PendingAuthorization, 'expiresAt'>, browserBinding: string): Promise<PendingAuthorization> {
    this.#dropExpired();
    while (this.#entries.size >= this.#maxPending) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    const pending = { ...entry, expiresAt: this.#now() + this.#ttlMs };
    this.#entries.set(entry.state, { ...pending, bindingHash: hashBinding(browserBinding) });
    return Promise.resolve(pending);
  }

  consume(state: string, provider: string, browserBinding: string | null): Promise<ConsumeOutcome> {
    const entry = this.#entries.get(state);
    if (!entry) return Promise.resolve({ ok: false, reason: 'unknown', owner: null });
    this.#entries.delete(state);
    return Promise.resolve(judgeConsumed(entry, provider, browserBinding, this.#now()));
  }

  #dropExpired(): void {
    const now = this.#now();
    for (const [state, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(state);
  }

  clear(): void {
    this.#entries.clear();
  }
}
