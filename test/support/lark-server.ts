import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { recordSecret } from './secret-scan.js';

/** One token request as the stand-in saw it (never the secrets in it). */
export interface LarkTokenRequest {
  grantType: string;
  contentType: string;
  status: number;
  /** Lark's `code` in the answer: 0, or 20xxx. */
  code: number;
}

export interface LarkStandInOptions {
  clientId?: string;
  clientSecret?: string;
  redirectUris: string[];
  /** The user who consents: their open_id becomes the owner. */
  openId?: string;
  accessTokenTtlSeconds?: number;
  /** After processing (and rotating), hold each token answer this long: a kill in between loses it. */
  tokenAnswerDelayMs?: number;
}

interface Grant {
  openId: string;
  scopes: string[];
  consentedAt: number;
  revoked: boolean;
}

const DAY_MS = 24 * 3600_000;
/** Lark ends every user authorization 365 days after consent; a refresh token lives 7 days. */
const GRANT_LIFETIME_MS = 365 * DAY_MS;
const REFRESH_TOKEN_TTL_MS = 7 * DAY_MS;

const LARK_ERRORS = {
  invalidClient: {
    status: 400,
    code: 20002,
    error: 'invalid_client',
    description: 'The client secret is invalid.',
  },
  codeNotFound: {
    status: 400,
    code: 20003,
    error: 'invalid_grant',
    description: 'The authorization code was not found.',
  },
  codeExpired: {
    status: 400,
    code: 20004,
    error: 'invalid_grant',
    description: 'The authorization code has expired.',
  },
  refreshInvalid: {
    status: 400,
    code: 20026,
    error: 'invalid_grant',
    description: 'The refresh token is invalid.',
  },
  refreshExpired: {
    status: 400,
    code: 20037,
    error: 'invalid_grant',
    description: 'The refresh token has expired.',
  },
  pkceFailed: { status: 400, code: 20049, error: 'invalid_grant', description: 'PKCE verification failed.' },
  refreshRevoked: {
    status: 400,
    code: 20064,
    error: 'invalid_grant',
    description: 'The refresh token has been revoked.',
  },
  codeUsed: {
    status: 400,
    code: 20065,
    error: 'invalid_grant',
    description: 'The authorization code has been used.',
  },
  refreshUsed: {
    status: 400,
    code: 20073,
    error: 'invalid_grant',
    description: 'The refresh token has been used.',
  },
  badRequest: {
    status: 400,
    code: 20001,
    error: 'invalid_request',
    description: 'The request is malformed.',
  },
} as const;
type LarkError = (typeof LARK_ERRORS)[keyof typeof LARK_ERRORS];

/**
 * A loopback stand-in for Lark's open platform that answers as Lark documents: authorize at
 * `/open-apis/authen/v1/authorize` (consent is given at once, or refused), the v2 token endpoint
 * (JSON body, client secret in it, PKCE S256, `{code: 0, ...}` or `{code: 20xxx, error, error_description}`),
 * refresh tokens that work once and only with `offline_access`, the 365-day end of a grant, and the
 * calendar v4 endpoints a skill uses (primary calendar, list and create events).
 */
export class LarkStandIn implements AsyncDisposable {
  readonly tokenRequests: LarkTokenRequest[] = [];
  /** Token requests processed so far, counted before a held answer is sent. */
  tokenRequestsProcessed = 0;
  readonly calendarRequests: Array<{ method: string; path: string; authorized: boolean }> = [];
  readonly events: Array<{
    event_id: string;
    summary: string;
    start_time: { timestamp: string };
    end_time: { timestamp: string };
  }> = [];
  readonly clientId: string;
  readonly clientSecret: string;
  readonly openId: string;
  /** The stand-in's clock, moved by tests to reach the 365-day end. */
  offsetMs = 0;
  /** What the user answers on the consent page. */
  answer: 'allow' | 'deny' = 'allow';
  /** Challenge methods seen at authorize. */
  readonly challengeMethods: Array<string | null> = [];
  tokenAnswerDelayMs: number;
  /**
   * The next successful token answer loses its `access_token` on the way (a broken proxy, a
   * truncated body): Lark has processed the request (and rotated the refresh token) all the same.
   */
  dropNextAccessToken = false;
  url = '';

  readonly #options: LarkStandInOptions;
  readonly #codes = new Map<
    string,
    {
      grant: Grant;
      redirectUri: string;
      challenge: string | null;
      method: string | null;
      issuedAt: number;
      used: boolean;
    }
  >();
  readonly #refreshTokens = new Map<string, { grant: Grant; expiresAt: number; used: boolean }>();
  readonly #accessTokens = new Map<string, { grant: Grant; expiresAt: number }>();
  readonly #grants: Grant[] = [];
  readonly #server = createServer((request, response) => {
    this.#handle(request, response).catch((error: unknown) => {
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ code: 20050, error: 'server_error', error_description: String(error) }));
    });
  });

  private constructor(options: LarkStandInOptions) {
    this.#options = options;
    this.clientId = options.clientId ?? 'cli_a5f1e2d3c4b5a697';
    this.clientSecret = options.clientSecret ?? `lark-app-secret-${randomBytes(12).toString('hex')}`;
    this.openId = options.openId ?? 'ou_7d8a6e6df7621556ce0d21922b676706ccs';
    this.tokenAnswerDelayMs = options.tokenAnswerDelayMs ?? 0;
    recordSecret(this.clientSecret);
  }

  static async start(options: LarkStandInOptions): Promise<LarkStandIn> {
    const server = new LarkStandIn(options);
    await new Promise<void>((resolve, reject) => {
      server.#server.once('error', reject);
      server.#server.listen(0, '127.0.0.1', () => resolve());
    });
    server.url = `http://127.0.0.1:${(server.#server.address() as AddressInfo).port}`;
    return server;
  }

  get authorizationUrl(): string {
    return `${this.url}/open-apis/authen/v1/authorize`;
  }

  get tokenUrl(): string {
    return `${this.url}/open-apis/authen/v2/oauth/token`;
  }

  /** The provider entry a user would write, with the stand-in's URLs in place of Lark's. */
  providerEntry(
    name: string,
    scopes: string[] = ['calendar:calendar', 'offline_access'],
  ): Record<string, unknown> {
    return {
      name,
      source: 'builtin',
      preset: 'lark',
      clientId: this.clientId,
      clientSecret: this.clientSecret,
      authorizationUrl: this.authorizationUrl,
      tokenUrl: this.tokenUrl,
      scopes,
    };
  }

  /** The user removes the app's access in Lark: every refresh token of theirs is revoked. */
  revokeAll(): void {
    for (const grant of this.#grants) grant.revoked = true;
  }

  #now(): number {
    return Date.now() + this.offsetMs;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.url);
    if (request.method === 'GET' && url.pathname === '/open-apis/authen/v1/authorize')
      return this.#authorize(url, response);
    if (request.method === 'POST' && url.pathname === '/open-apis/authen/v2/oauth/token') {
      return this.#token(request, response);
    }
    if (url.pathname.startsWith('/open-apis/calendar/v4/')) return this.#calendar(request, url, response);
    response.writeHead(404, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ code: 404, msg: 'not found' }));
  }

  #authorize(url: URL, response: ServerResponse): void {
    const redirectUri = url.searchParams.get('redirect_uri') ?? '';
    if (
      url.searchParams.get('client_id') !== this.clientId ||
      !this.#options.redirectUris.includes(redirectUri)
    ) {
      response.writeHead(400, { 'content-type': 'text/plain' });
      response.end('invalid client_id or redirect_uri');
      return;
    }
    const state = url.searchParams.get('state');
    const target = new URL(redirectUri);
    if (state !== null) target.searchParams.set('state', state);
    if (this.answer === 'deny') {
      target.searchParams.set('error', 'access_denied');
    } else {
      const grant: Grant = {
        openId: this.openId,
        scopes: (url.searchParams.get('scope') ?? '').split(' ').filter(Boolean),
        consentedAt: this.#now(),
        revoked: false,
      };
      this.#grants.push(grant);
      const code = randomBytes(16).toString('hex');
      const method = url.searchParams.get('code_challenge_method');
      this.challengeMethods.push(method);
      this.#codes.set(code, {
        grant,
        redirectUri,
        challenge: url.searchParams.get('code_challenge'),
        // Lark's default method is plain.
        method: url.searchParams.get('code_challenge') === null ? null : (method ?? 'plain'),
        issuedAt: this.#now(),
        used: false,
      });
      target.searchParams.set('code', code);
    }
    response.writeHead(302, { location: target.href });
    response.end();
  }

  async #token(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const contentType = request.headers['content-type'] ?? '';
    let text = '';
    for await (const chunk of request) text += (chunk as Buffer).toString('utf8');
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // Lark reads JSON only: a form body is a malformed request.
    }
    const grantType = typeof body.grant_type === 'string' ? body.grant_type : '';
    const answer = await this.#tokenAnswer(contentType, grantType, body);
    this.tokenRequestsProcessed++;
    if (this.tokenAnswerDelayMs > 0)
      await new Promise((resolve) => setTimeout(resolve, this.tokenAnswerDelayMs));
    const failed = answer.code === 0 ? null : (answer as LarkError);
    if (!failed && this.dropNextAccessToken) {
      this.dropNextAccessToken = false;
      delete (answer as Record<string, unknown>).access_token;
    }
    const status = failed?.status ?? 200;
    this.tokenRequests.push({ grantType, contentType, status, code: answer.code });
    response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    response.end(
      JSON.stringify(
        failed ? { code: failed.code, error: failed.error, error_description: failed.description } : answer,
      ),
    );
  }

  async #tokenAnswer(
    contentType: string,
    grantType: string,
    body: Record<string, unknown>,
  ): Promise<LarkError | ({ code: 0 } & Record<string, unknown>)> {
    if (!contentType.startsWith('application/json')) return LARK_ERRORS.badRequest;
    if (body.client_id !== this.clientId || body.client_secret !== this.clientSecret)
      return LARK_ERRORS.invalidClient;
    if (grantType === 'authorization_code') {
      const code = this.#codes.get(String(body.code));
      if (!code) return LARK_ERRORS.codeNotFound;
      if (code.used) return LARK_ERRORS.codeUsed;
      code.used = true;
      if (this.#now() - code.issuedAt > 5 * 60_000) return LARK_ERRORS.codeExpired;
      if (body.redirect_uri !== code.redirectUri) return LARK_ERRORS.badRequest;
      if (code.challenge !== null) {
        const verifier = typeof body.code_verifier === 'string' ? body.code_verifier : '';
        const computed =
          code.method === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
        if (computed !== code.challenge) return LARK_ERRORS.pkceFailed;
      }
      return this.#issue(code.grant);
    }
    if (grantType === 'refresh_token') {
      const entry = this.#refreshTokens.get(String(body.refresh_token));
      if (!entry) return LARK_ERRORS.refreshInvalid;
      if (entry.used) return LARK_ERRORS.refreshUsed;
      if (entry.grant.revoked) return LARK_ERRORS.refreshRevoked;
      if (this.#now() >= entry.expiresAt) return LARK_ERRORS.refreshExpired;
      entry.used = true;
      return this.#issue(entry.grant);
    }
    return LARK_ERRORS.badRequest;
  }

  #issue(grant: Grant): { code: 0 } & Record<string, unknown> {
    const now = this.#now();
    const accessToken = `u-${randomBytes(18).toString('base64url')}`;
    const ttl = this.#options.accessTokenTtlSeconds ?? 7200;
    this.#accessTokens.set(accessToken, { grant, expiresAt: now + ttl * 1000 });
    recordSecret(accessToken);
    const answer: { code: 0 } & Record<string, unknown> = {
      code: 0,
      access_token: accessToken,
      expires_in: ttl,
      token_type: 'Bearer',
      scope: grant.scopes.join(' '),
    };
    // Lark gives a refresh token only to a grant with offline_access.
    if (grant.scopes.includes('offline_access')) {
      const refreshToken = `ur-${randomBytes(18).toString('base64url')}`;
      const expiresAt = Math.min(now + REFRESH_TOKEN_TTL_MS, grant.consentedAt + GRANT_LIFETIME_MS);
      this.#refreshTokens.set(refreshToken, { grant, expiresAt, used: false });
      recordSecret(refreshToken);
      answer.refresh_token = refreshToken;
      answer.refresh_token_expires_in = Math.max(0, Math.floor((expiresAt - now) / 1000));
    }
    return answer;
  }

  async #calendar(request: IncomingMessage, url: URL, response: ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of request) text += (chunk as Buffer).toString('utf8');
    const bearer = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
    const access = bearer ? this.#accessTokens.get(bearer) : undefined;
    const authorized = access !== undefined && access.expiresAt > this.#now() && !access.grant.revoked;
    this.calendarRequests.push({ method: request.method ?? '', path: url.pathname, authorized });
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      response.end(JSON.stringify(body));
    };
    if (!authorized) return send(400, { code: 99991668, msg: 'Invalid access token for authorization.' });
    const calendarId = `feishu.cn_${access.grant.openId.slice(3, 15)}@group.calendar.feishu.cn`;
    if (request.method === 'POST' && url.pathname === '/open-apis/calendar/v4/calendars/primary') {
      return send(200, {
        code: 0,
        msg: 'success',
        data: {
          calendars: [
            {
              calendar: { calendar_id: calendarId, summary: 'Primary', type: 'primary', role: 'owner' },
              user_id: access.grant.openId,
            },
          ],
        },
      });
    }
    const eventsPath = `/open-apis/calendar/v4/calendars/${encodeURIComponent(calendarId)}/events`;
    if (url.pathname === eventsPath && request.method === 'GET') {
      return send(200, { code: 0, msg: 'success', data: { has_more: false, items: this.events } });
    }
    if (url.pathname === eventsPath && request.method === 'POST') {
      const body = JSON.parse(text || '{}') as {
        summary?: string;
        start_time?: { timestamp?: string };
        end_time?: { timestamp?: string };
      };
      if (!body.start_time?.timestamp || !body.end_time?.timestamp) {
        return send(400, { code: 190002, msg: 'invalid parameters in request' });
      }
      const event = {
        event_id: `${randomBytes(8).toString('hex')}_0`,
        summary: body.summary ?? '',
        start_time: { timestamp: body.start_time.timestamp },
        end_time: { timestamp: body.end_time.timestamp },
      };
      this.events.push(event);
      return send(200, { code: 0, msg: 'success', data: { event } });
    }
    return send(404, { code: 191001, msg: 'calendar not found' });
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
