/**
 * The page's sessions and one-time login codes. Both are random 32-byte values kept only as digests,
 * so neither a lookup, a heap dump nor a database dump reveals them. In memory for one host (a
 * restart logs the page out); in PostgreSQL for many (a login link printed by one host works on all).
 */
export interface PageSessions {
  readonly sessionTtlSeconds: number;
  /**
   * Starts a session and returns its id (the cookie value). Usable on this host at once; a shared
   * store records it in the background, and checks on any host wait for what this host still writes.
   */
  createSession(): string;
  isValidSession(id: string | undefined): Promise<boolean>;
  endSession(id: string | undefined): Promise<void>;
  /** A code for a one-time login link (`/?token=<code>`), recorded like a session. */
  createLoginCode(): string;
  /** Spends a login code: true the first time a valid one is used, false ever after. */
  redeemLoginCode(code: string | undefined): Promise<boolean>;
  /**
   * Resolves once what this host created is recorded where every host sees it, so a link or cookie
   * handed out next works on any of them (at once for one host's memory).
   */
  flush(): Promise<void>;
}

export const DEFAULT_SESSION_TTL_MS = 12 * 60 * 60_000;
// Links end up in terminals and logs (`docker logs`): short-lived, and spent on first use.
export const DEFAULT_LOGIN_CODE_TTL_MS = 15 * 60_000;
