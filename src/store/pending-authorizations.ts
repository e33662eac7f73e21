import { createHash, randomBytes } from 'node:crypto';

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

/** Only a digest of the binding is kept: a store's contents cannot be replayed as a cookie. */
export function hashBinding(binding: string): Buffer {
  return createHash('sha256').update(binding, 'utf8').digest();
}

export interface PendingAuthorization {
  state: string;
  owner: string;
  provider: string;
  /**
   * The PKCE verifier, sealed with the hosts' key (bound to the state) before it is stored; it is
   * opened only on a host, to exchange the code.
   */
  codeVerifier: string | null;
  redirectUri: string;
  expiresAt: number;
}

export type ConsumeOutcome =
  | { ok: true; pending: PendingAuthorization }
  | { ok: false; reason: 'unknown' | 'expired' | 'wrong_provider' | 'wrong_browser'; owner: string | null };

/**
 * Authorizations started and not yet finished, by `state`: each bound to owner, provider and a hash
 * of the browser's binding cookie, and usable once (consumed atomically, whichever host the callback
 * reaches). In memory for one host; in PostgreSQL for many.
 */
export interface PendingAuthorizationStore {
  add(entry: Omit<PendingAuthorization, 'expiresAt'>, browserBinding: string): Promise<PendingAuthorization>;
  /** Looks a state up and forgets it, whatever the outcome: a state is never good twice. */
  consume(state: string, provider: string, browserBinding: string | null): Promise<ConsumeOutcome>;
  /** Forgets what this process holds (the shared store keeps other hosts' flows). */
  clear(): void;
}
