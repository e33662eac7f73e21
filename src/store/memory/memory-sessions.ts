import { randomBytes } from 'node:crypto';
import { createHash } from 'node:crypto';
import { DEFAULT_LOGIN_CODE_TTL_MS, DEFAULT_SESSION_TTL_MS, type PageSessions } from '../page-sessions.js';

export interface SessionStoreOptions {
  /** How long a page session lasts. */
  sessionTtlMs?: number;
  /** How long a printed login link stays valid (it is also spent by its first use). */
  loginCodeTtlMs?: number;
  /** The oldest sessions are dropped beyond this many. */
  maxSessions?: number;
  now?: () => number;
}

/** What sessions and login codes are kept as: a digest, never the value. */
export function secretDigest(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}
const MAX_LOGIN_CODES = 16;

/**
 * The page's sessions and one-time login codes, in memory (a restart logs the page out). Both are
 * random 32-byte values kept only as digests, so neither a map lookup nor a heap dump reveals them.
 */
export class SessionStore implements PageSessions {
  readonly #sessions = new Map<string, number>();
  readonly #loginCodes = new Map<string, number>();
  readonly #sessionTtlMs: number;
  readonly #loginCodeTtlMs: number;
  readonly #maxSessions: number;
  readonly #now: () => number;

  constructor(options: SessionStoreOptions = {}) {
    this.#sessionTtlMs = options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS;
    this.#loginCodeTtlMs = options.loginCodeTtlMs ?? DEFAULT_LOGIN_CODE_TTL_MS;
    this.#maxSessions = options.maxSessions ?? 64;
    this.#now = options.now ?? Date.now;
  }

  get sessionTtlSeconds(): number {
    return Math.floor(this.#sessionTtlMs / 1000);
  }

  /** Starts a session and returns its id (the cookie value). */
  createSession(): string {
    const id = randomBytes(32).toString('base64url');
    this.#sessions.set(secretDigest(id), this.#now() + this.#sessionTtlMs);
    while (this.#sessions.size > this.#maxSessions) {
      this.#sessions.delete(this.#sessions.keys().next().value!);
    }
    return id;
  }

  isValidSession(id: string | undefined): Promise<boolean> {
    return Promise.resolve(this.isValidHere(id));
  }

  /** The answer from this process's memory alone. */
  isValidHere(id: string | undefined): boolean {
    if (!id) return false;
    const key = secretDigest(id);
    const expiresAt = this.#sessions.get(key);
    if (expiresAt === undefined) return false;
    if (expiresAt <= this.#now()) {
      this.#sessions.delete(key);
      return false;
    }
    return true;
  }

  endSession(id: string | undefined): Promise<void> {
    if (id) this.#sessions.delete(secretDigest(id));
    return Promise.resolve();
  }

  /** A code for a one-time login link (`/?token=<code>`). */
  /** Everything is recorded at once in memory. */
  flush(): Promise<void> {
    return Promise.resolve();
  }

  createLoginCode(): string {
    const code = randomBytes(32).toString('base64url');
    this.#loginCodes.set(secretDigest(code), this.#now() + this.#loginCodeTtlMs);
    while (this.#loginCodes.size > MAX_LOGIN_CODES) {
      this.#loginCodes.delete(this.#loginCodes.keys().next().value!);
    }
    return code;
  }

  /** Spends a login code: true the first time a valid one is used, false ever after. */
  redeemLoginCode(code: string | undefined): Promise<boolean> {
    return Promise.resolve(this.redeemHere(code));
  }

  /** Spends a code this process made; false when it made none such. */
  redeemHere(code: string | undefined): boolean {
    if (!code) return false;
    const key = secretDigest(code);
    const expiresAt = this.#loginCodes.get(key);
    if (expiresAt === undefined) return false;
    this.#loginCodes.delete(key);
    return expiresAt > this.#now();
  }
}
