import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A state value lives this long: enough to sign in and consent, short enough to be useless later. */
export const PENDING_AUTHORIZATION_TTL_MS = 10 * 60_000;

/** Creates the value a route keeps in a browser cookie to tie a `state` to that browser. */
export function newBrowserBinding(): string {
  return randomBytes(32).toString('base64url');
}

/** A binding must be a real random value, not an empty or guessable cookie. */
export function isBrowserBinding(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 16 && value.length <= 512;
}

function hashBinding(binding: string): Buffer {
  return createHash('sha256').update(binding, 'utf8').digest();
}

export interface PendingAuthorization {
  state: string;
  owner: string;
  provider: string;
  /** The PKCE verifier; it never leaves this process. */
  codeVerifier: string | null;
  redirectUri: string;
  expiresAt: number;
}

export type ConsumeOutcome =
  | { ok: true; pending: PendingAuthorization }
  | { ok: false; reason: 'unknown' | 'expired' | 'wrong_provider' | 'wrong_browser'; owner: string | null };

export interface PendingAuthorizationsOptions {
  ttlMs?: number;
  /** More started-but-unfinished authorizations than this push out the oldest. */
  maxPending?: number;
  now?: () => number;
}

/**
 * Authorizations started and not yet finished, by `state`: each bound to owner, provider and a hash of
 * the browser's binding cookie, and usable once. In memory: one daemon process owns its flows.
 */
export class PendingAuthorizations {
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

  add(entry: Omit<PendingAuthorization, 'expiresAt'>, browserBinding: string): PendingAuthorization {
    this.#dropExpired();
    while (this.#entries.size >= this.#maxPending) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    const pending = { ...entry, expiresAt: this.#now() + this.#ttlMs };
    this.#entries.set(entry.state, { ...pending, bindingHash: hashBinding(browserBinding) });
    return pending;
  }

  /** Looks a state up and forgets it, whatever the outcome: a state is never good twice. */
  consume(state: string, provider: string, browserBinding: string | null): ConsumeOutcome {
    const entry = this.#entries.get(state);
    if (!entry) return { ok: false, reason: 'unknown', owner: null };
    this.#entries.delete(state);
    if (entry.expiresAt <= this.#now()) return { ok: false, reason: 'expired', owner: entry.owner };
    if (entry.provider !== provider) return { ok: false, reason: 'wrong_provider', owner: entry.owner };
    if (
      !isBrowserBinding(browserBinding) ||
      !timingSafeEqual(hashBinding(browserBinding), entry.bindingHash)
    ) {
      return { ok: false, reason: 'wrong_browser', owner: entry.owner };
    }
    const { bindingHash: _bindingHash, ...pending } = entry;
    return { ok: true, pending };
  }

  #dropExpired(): void {
    const now = this.#now();
    for (const [state, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(state);
  }

  clear(): void {
    this.#entries.clear();
  }
}
