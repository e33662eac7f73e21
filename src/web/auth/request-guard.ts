import { HttpError } from '../server/http-error.js';
import type { Authentication, HttpMethod } from '../server/route.js';
import { secretsEqual } from './constant-time.js';
import type { PageSessions } from './session-store.js';

export const SESSION_COOKIE = 'nanoclaw_session';

export interface RequestGuardOptions {
  apiToken: string;
  sessions: PageSessions;
  /**
   * Origins the page is served from (`http://127.0.0.1:3000`, the public URL): state-changing
   * requests with a session cookie must come from one of them, and Host headers must name one.
   */
  allowedOrigins: () => readonly string[];
}

export interface GuardedRequest {
  method: HttpMethod;
  headers: Readonly<Record<string, string | undefined>>;
  cookies: Readonly<Record<string, string | undefined>>;
}

const SAFE_METHODS = new Set<HttpMethod>(['GET']);

/**
 * Who may call the API: the API token as a Bearer header, or the page's session cookie. A session
 * is ambient (the browser sends it on its own), so state changes with it must carry our Origin too;
 * the cookie is SameSite=Strict as well. Host headers are checked so a DNS-rebound name cannot reach us.
 */
export class RequestGuard {
  readonly #apiToken: string;
  readonly #sessions: PageSessions;
  readonly #allowedOrigins: () => readonly string[];

  constructor(options: RequestGuardOptions) {
    this.#apiToken = options.apiToken;
    this.#sessions = options.sessions;
    this.#allowedOrigins = options.allowedOrigins;
  }

  /** True when `candidate` is the API token. */
  isApiToken(candidate: unknown): boolean {
    return typeof candidate === 'string' && secretsEqual(candidate, this.#apiToken);
  }

  /** True for an Origin the page is served from. */
  isAllowedOrigin(origin: string): boolean {
    return this.#allowedOrigins().includes(origin.toLowerCase());
  }

  checkHost(headers: GuardedRequest['headers']): void {
    const host = headers.host?.toLowerCase();
    const allowed = this.#allowedOrigins().some((origin) => new URL(origin).host === host);
    if (!allowed) {
      throw new HttpError(403, 'FORBIDDEN_HOST', 'this server does not answer for that Host name');
    }
  }

  /** Checks an `api` request; throws UNAUTHORIZED or FORBIDDEN_ORIGIN. */
  async authenticate(request: GuardedRequest): Promise<Authentication> {
    const authorization = request.headers.authorization;
    if (authorization !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (match && this.isApiToken(match[1])) return 'token';
      throw new HttpError(401, 'UNAUTHORIZED', 'the Authorization header does not carry the API token');
    }
    if (await this.#sessions.isValidSession(request.cookies[SESSION_COOKIE])) {
      if (!SAFE_METHODS.has(request.method)) this.#checkOrigin(request.headers.origin);
      return 'session';
    }
    throw new HttpError(
      401,
      'UNAUTHORIZED',
      'log in through the page, or send "Authorization: Bearer <token>" with the token from <data>/api-token',
    );
  }

  /**
   * A navigation that starts something in the owner's name (a sign-in) with the page's session: it
   * must come from our page (`Sec-Fetch-Site: same-origin`) or from the person (`none`: a link typed,
   * pasted or opened from the terminal). SameSite=Strict alone is not enough: a page on another port
   * of this host is the same site, and its navigation carries the cookie.
   */
  checkNavigationSource(headers: GuardedRequest['headers']): void {
    const site = headers['sec-fetch-site']?.toLowerCase();
    if (site === 'same-origin' || site === 'none') return;
    throw new HttpError(
      403,
      'FORBIDDEN_ORIGIN',
      site === undefined
        ? 'start a sign-in from the nanoclaw page (this browser sent no Fetch metadata), or use the API token'
        : 'a sign-in may only be started from the nanoclaw page, or from a link opened by hand',
    );
  }

  #checkOrigin(origin: string | undefined): void {
    if (origin === undefined || !this.isAllowedOrigin(origin)) {
      throw new HttpError(
        403,
        'FORBIDDEN_ORIGIN',
        'state-changing requests with a session must come from the page (Origin mismatch)',
      );
    }
  }
}
