import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Nango server on loopback that answers the endpoints `@nangohq/node` calls the way NANGO.md
 * records them: bearer key check, connections with OAuth 2 credentials, auto refresh within 15
 * minutes of expiry, connect sessions, and scriptable failures. It records every request so tests
 * can count what reached the source.
 */

/** One stored connection: an owner's (end user's) authorization for one integration. */
export interface FakeConnection {
  /** The Nango record id. */
  id: number;
  connectionId: string;
  /** Provider config key (integration id). */
  integration: string;
  /** Which end user (our owner id) the connection belongs to; null for connections made without one. */
  endUserId: string | null;
  accessToken: string;
  refreshToken: string;
  /** null: the token never expires (no `expires_at` in the credentials). */
  expiresAt: Date | null;
  /** Granted scopes as the provider reported them in `raw.scope`, or null for none. */
  scope: string | null;
  tokenType: string;
  created: Date;
}

export interface NewConnection {
  integration: string;
  /** Defaults to a random UUID, as Nango picks with connect sessions. */
  connectionId?: string;
  endUserId?: string | null;
  accessToken?: string;
  refreshToken?: string;
  /** Defaults to one hour from now. */
  expiresAt?: Date | null;
  scope?: string | null;
  tokenType?: string;
}

export type FakeRoute =
  | 'getConnection'
  | 'listConnections'
  | 'createConnectSession'
  | 'deleteConnection'
  /** What the Connect UI asks with the session token (`GET /connect/session`). */
  | 'getConnectSession';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  route: FakeRoute | null;
  /** Connection id from the path, for getConnection and deleteConnection. */
  connectionId: string | null;
  /** `provider_config_key` query value, when present. */
  integration: string | null;
  /** Milliseconds since the server started, when the request arrived. */
  receivedAt: number;
  body: unknown;
}

/** A scripted answer that replaces the normal one. */
export interface ScriptedReply {
  status: number;
  /** JSON body; ignored when `rawBody` is set. */
  body?: unknown;
  /** Sent as is, with a JSON content type: for malformed answers. */
  rawBody?: string;
  headers?: Record<string, string>;
  /** Wait this long before answering. */
  delayMs?: number;
  /** After the delay, answer normally instead of with `status`/`body`. */
  passThrough?: boolean;
}

/** Which requests a scripted reply applies to; every given field must match. */
export interface ReplyMatch {
  route?: FakeRoute;
  connectionId?: string;
  integration?: string;
}

function nangoError(status: number, code: string, message: string, headers?: Record<string, string>) {
  return { status, body: { error: { code, message } }, ...(headers ? { headers } : {}) };
}

/** Answers as the real server gives them. */
export const nangoReplies = {
  notFound: (): ScriptedReply => nangoError(404, 'not_found', 'No connection found'),
  invalidCredentials: (): ScriptedReply =>
    nangoError(400, 'invalid_credentials', 'The refresh token was rejected by the provider'),
  unknownProviderConfig: (): ScriptedReply =>
    nangoError(400, 'unknown_provider_config', 'No integration with this key'),
  /**
   * The 30 s cooldown after a failed refresh: non-forced reads answer 424. The code is
   * `invalid_credentials`, as in the exhausted case; only the message tells them apart.
   */
  refreshCooldown: (): ScriptedReply =>
    nangoError(424, 'invalid_credentials', 'A recent refresh attempt failed. Backing off before retrying.'),
  /** Nango stopped refreshing the connection (after days of failures): same status and code. */
  refreshExhausted: (): ScriptedReply =>
    nangoError(424, 'invalid_credentials', 'The refresh limit has been reached for this connection.'),
  /** DELETE of a connection Nango does not have: 400, not 404. */
  unknownConnection: (): ScriptedReply =>
    nangoError(400, 'unknown_connection', 'The connection does not exist'),
  unknownAccount: (): ScriptedReply => nangoError(401, 'unknown_account', 'Authentication failed'),
  /** `retryAfter` is delay-seconds (possibly 0) or an HTTP date, as the header allows. */
  rateLimited: (retryAfter: string): ScriptedReply =>
    nangoError(429, 'too_many_request', 'Too many requests', {
      'retry-after': retryAfter,
      'x-ratelimit-limit': '200',
    }),
  serverError: (status = 500): ScriptedReply => nangoError(status, 'server_error', 'Internal error'),
  /** A 200 whose body is not JSON at all. */
  malformedJson: (): ScriptedReply => ({ status: 200, rawBody: '{"credentials": {"type": "OAUTH2", "acc' }),
  /** A 200 with JSON that is not a connection. */
  json: (body: unknown): ScriptedReply => ({ status: 200, body }),
  /** The normal answer, late. */
  slow: (delayMs: number): ScriptedReply => ({ status: 200, delayMs, passThrough: true }),
};

interface ScriptEntry {
  match: ReplyMatch;
  reply: ScriptedReply;
  remaining: number;
}

export interface ConnectSession {
  token: string;
  endUserId: string;
  allowedIntegrations: string[];
  expiresAt: Date;
}

/** An auth webhook as Nango sends it: the raw body and the headers, signed. */
export interface FakeWebhook {
  rawBody: string;
  headers: Record<string, string>;
}

export interface AuthWebhookOptions {
  operation?: 'creation' | 'override' | 'refresh';
  success?: boolean;
  error?: { type: string; description: string };
}

export interface FakeNangoServerOptions {
  /** The key clients must send as `Authorization: Bearer <key>`. */
  secretKey?: string;
  /** Signs webhooks; Nango falls back to the secret key when there is none. */
  webhookSigningKey?: string;
  /** Added to every answer: a source that answers in this many milliseconds. */
  latencyMs?: number;
}

const REFRESH_MARGIN_MS = 15 * 60_000;

/** A recognisable, random token value, so tests can scan output for any token ever issued. */
function newSecret(kind: string): string {
  return `fake-${kind}-${randomBytes(12).toString('hex')}`;
}

export class FakeNangoServer implements AsyncDisposable {
  readonly secretKey: string;
  readonly webhookSigningKey: string;
  latencyMs: number;
  readonly requests: RecordedRequest[] = [];
  readonly connectSessions: ConnectSession[] = [];
  /**
   * Where `connect_link` points (NANGO_PUBLIC_CONNECT_URL): the Connect UI. Like the real one, the
   * link carries no `apiURL`.
   */
  publicConnectUrl: string | null = null;
  /** Integrations this Nango does not have (every other name is one it has). */
  readonly missingIntegrations = new Set<string>();
  /**
   * Token requests Nango made at the provider: the code exchange that ends a connect, and each
   * refresh (forced, or on a read near expiry). Rotating refresh tokens make every one count.
   */
  providerTokenRequests = 0;
  readonly #connections = new Map<string, FakeConnection>();
  readonly #issued = new Set<string>();
  #script: ScriptEntry[] = [];
  #nextId = 1;
  #inFlight = 0;
  #maxInFlight = 0;
  #startedAt = performance.now();
  #server: Server | null = null;
  readonly #closing = new AbortController();
  #url = '';

  private constructor(options: FakeNangoServerOptions) {
    this.secretKey = options.secretKey ?? newSecret('nango-secret-key');
    this.webhookSigningKey = options.webhookSigningKey ?? this.secretKey;
    this.latencyMs = options.latencyMs ?? 0;
  }

  /** Starts a server on 127.0.0.1 on a free port. */
  static async start(options: FakeNangoServerOptions = {}): Promise<FakeNangoServer> {
    const fake = new FakeNangoServer(options);
    await fake.#listen();
    return fake;
  }

  /** Base URL for `NANGO_HOST`. */
  get url(): string {
    return this.#url;
  }

  /** Most requests the server was handling at the same moment since the last `resetStats`. */
  get maxConcurrentRequests(): number {
    return this.#maxInFlight;
  }

  /** Every access and refresh token this server ever handed out, plus its keys: none may leak. */
  get secrets(): string[] {
    return [...new Set([this.secretKey, this.webhookSigningKey, ...this.#issued])];
  }

  get connections(): FakeConnection[] {
    return [...this.#connections.values()];
  }

  // --- connections ---------------------------------------------------------------------------------

  addConnection(input: NewConnection): FakeConnection {
    const connection: FakeConnection = {
      id: this.#nextId++,
      connectionId: input.connectionId ?? randomUUID(),
      integration: input.integration,
      endUserId: input.endUserId ?? null,
      accessToken: input.accessToken ?? newSecret('access-token'),
      refreshToken: input.refreshToken ?? newSecret('refresh-token'),
      expiresAt: input.expiresAt === undefined ? new Date(Date.now() + 3600_000) : input.expiresAt,
      scope: input.scope === undefined ? null : input.scope,
      tokenType: input.tokenType ?? 'bearer',
      created: new Date(),
    };
    this.#issued.add(connection.accessToken);
    this.#issued.add(connection.refreshToken);
    this.#connections.set(this.#key(connection.integration, connection.connectionId), connection);
    return connection;
  }

  getConnection(integration: string, connectionId: string): FakeConnection | undefined {
    return this.#connections.get(this.#key(integration, connectionId));
  }

  removeConnection(integration: string, connectionId: string): boolean {
    return this.#connections.delete(this.#key(integration, connectionId));
  }

  /** Sets a connection's token (a new value by default), as a provider refresh would. */
  rotateToken(
    integration: string,
    connectionId: string,
    update: { accessToken?: string; expiresAt?: Date | null; refreshToken?: string } = {},
  ): FakeConnection {
    const connection = this.getConnection(integration, connectionId);
    if (!connection) throw new Error(`no connection ${integration}/${connectionId}`);
    connection.accessToken = update.accessToken ?? newSecret('access-token');
    connection.refreshToken = update.refreshToken ?? connection.refreshToken;
    connection.expiresAt =
      update.expiresAt === undefined ? new Date(Date.now() + 3600_000) : update.expiresAt;
    this.#issued.add(connection.accessToken);
    this.#issued.add(connection.refreshToken);
    return connection;
  }

  /** Finishes a connect session the way Nango's Connect UI does: a new connection for its end user. */
  completeConnectSession(sessionToken: string, integration: string, input: Partial<NewConnection> = {}) {
    const session = this.connectSessions.find((candidate) => candidate.token === sessionToken);
    if (!session) throw new Error('unknown connect session');
    this.providerTokenRequests++;
    return this.addConnection({ ...input, integration, endUserId: session.endUserId });
  }

  // --- webhooks ------------------------------------------------------------------------------------

  /**
   * The auth webhook Nango sends about a connection (creation after OAuth, or a failed refresh),
   * signed as `verifyIncomingWebhookRequest` checks: HMAC-SHA256 hex of the raw body.
   */
  authWebhook(connection: FakeConnection, options: AuthWebhookOptions = {}): FakeWebhook {
    const success = options.success ?? true;
    const operation = options.operation ?? 'creation';
    const endUserTags = connection.endUserId
      ? { end_user_id: connection.endUserId, end_user_email: `${connection.endUserId}@example.com` }
      : {};
    // As the real server sends them: a creation names the end user twice (endUser and tags); a
    // refresh failure carries no endUser, only the top-level tags. Keys are sorted.
    const body: Record<string, unknown> = {
      authMode: 'OAUTH2',
      connectionId: connection.connectionId,
      ...(operation !== 'refresh' && connection.endUserId
        ? {
            endUser: {
              endUserEmail: `${connection.endUserId}@example.com`,
              endUserId: connection.endUserId,
              tags: endUserTags,
            },
          }
        : {}),
      environment: 'dev',
      ...(success
        ? {}
        : { error: options.error ?? { description: 'refresh failed', type: 'refresh_token_error' } }),
      from: 'nango',
      operation,
      provider: connection.integration,
      providerConfigKey: connection.integration,
      success,
      ...(connection.endUserId ? { tags: endUserTags } : {}),
      type: 'auth',
    };
    return this.signWebhook(JSON.stringify(body));
  }

  /** Signs any raw body with the webhook signing key. */
  signWebhook(rawBody: string): FakeWebhook {
    const signature = createHmac('sha256', this.webhookSigningKey).update(rawBody).digest('hex');
    return { rawBody, headers: { 'content-type': 'application/json', 'x-nango-hmac-sha256': signature } };
  }

  /** Delivers a webhook to `url` the way Nango does (POST, JSON, 20 s timeout); returns the status. */
  async deliverWebhook(url: string, webhook: FakeWebhook): Promise<number> {
    const response = await fetch(url, {
      method: 'POST',
      headers: webhook.headers,
      body: webhook.rawBody,
      signal: AbortSignal.timeout(20_000),
    });
    await response.arrayBuffer();
    return response.status;
  }

  // --- scripting -----------------------------------------------------------------------------------

  /** Answers matching requests with `reply`, `times` times (default: until `clearReplies`). */
  reply(match: ReplyMatch, reply: ScriptedReply, times = Number.POSITIVE_INFINITY): void {
    this.#script.push({ match, reply, remaining: times });
  }

  clearReplies(): void {
    this.#script = [];
  }

  /** Forgets recorded requests and the concurrency high-water mark. */
  resetStats(): void {
    this.requests.length = 0;
    this.#maxInFlight = this.#inFlight;
  }

  /** Recorded requests, optionally only those of one route. */
  requestsTo(route: FakeRoute, match: Omit<ReplyMatch, 'route'> = {}): RecordedRequest[] {
    return this.requests.filter(
      (request) =>
        request.route === route &&
        (match.connectionId === undefined || request.connectionId === match.connectionId) &&
        (match.integration === undefined || request.integration === match.integration),
    );
  }

  // --- lifecycle -----------------------------------------------------------------------------------

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = null;
    this.#closing.abort();
    server.closeAllConnections();
    await new Promise<void>((resolve, reject) =>
      server.close((error) => (error ? reject(error) : resolve())),
    );
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #listen(): Promise<void> {
    const server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) {
          response.writeHead(500, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ error: { code: 'fake_server_failure', message: String(error) } }));
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    this.#startedAt = performance.now();
    this.#url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  #key(integration: string, connectionId: string): string {
    return `${integration}\u0000${connectionId}`;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.#inFlight++;
    this.#maxInFlight = Math.max(this.#maxInFlight, this.#inFlight);
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      this.#inFlight--;
    };
    response.once('close', done);

    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const body = await readBody(request);
    const recorded = this.#record(request.method ?? 'GET', url, body);
    const closed = () => response.destroyed || response.writableEnded;

    if (this.latencyMs > 0) await delay(this.latencyMs, this.#closing.signal);
    const scripted = this.#scriptedReply(recorded);
    if (scripted?.delayMs) await delay(scripted.delayMs, this.#closing.signal);
    if (closed()) return done();

    // The Connect UI calls from its own origin, with the session token instead of the secret key.
    if (recorded.route === 'getConnectSession' || request.method === 'OPTIONS') {
      return send(response, this.#answerConnectUi(request.method ?? 'GET', request.headers.authorization));
    }
    if (request.headers.authorization !== `Bearer ${this.secretKey}`) {
      return send(response, nangoReplies.unknownAccount());
    }
    if (scripted && !scripted.passThrough) return send(response, scripted);
    send(response, this.#answer(recorded));
  }

  #record(method: string, url: URL, body: unknown): RecordedRequest {
    const query = Object.fromEntries(url.searchParams.entries());
    const path = url.pathname;
    let route: FakeRoute | null = null;
    let connectionId: string | null = null;
    const single = /^\/connections\/([^/]+)$/.exec(path);
    if (single) {
      connectionId = decodeURIComponent(single[1]!);
      route = method === 'GET' ? 'getConnection' : method === 'DELETE' ? 'deleteConnection' : null;
    } else if (path === '/connections' && method === 'GET') route = 'listConnections';
    else if (path === '/connect/sessions' && method === 'POST') route = 'createConnectSession';
    else if (path === '/connect/session' && method === 'GET') route = 'getConnectSession';
    const recorded: RecordedRequest = {
      method,
      path,
      query,
      route,
      connectionId,
      integration: query.provider_config_key ?? null,
      receivedAt: performance.now() - this.#startedAt,
      body,
    };
    this.requests.push(recorded);
    return recorded;
  }

  #scriptedReply(request: RecordedRequest): ScriptedReply | null {
    const entry = this.#script.find(
      ({ match, remaining }) =>
        remaining > 0 &&
        (match.route === undefined || match.route === request.route) &&
        (match.connectionId === undefined || match.connectionId === request.connectionId) &&
        (match.integration === undefined || match.integration === request.integration),
    );
    if (!entry) return null;
    entry.remaining--;
    return entry.reply;
  }

  #answer(request: RecordedRequest): ScriptedReply {
    switch (request.route) {
      case 'getConnection':
        return this.#answerGetConnection(request);
      case 'listConnections':
        return this.#answerListConnections(request);
      case 'createConnectSession':
        return this.#answerCreateConnectSession(request);
      case 'deleteConnection': {
        const removed = this.removeConnection(request.integration ?? '', request.connectionId ?? '');
        return removed ? { status: 200, body: { success: true } } : nangoReplies.unknownConnection();
      }
      default:
        return nangoError(404, 'unknown_route', `no route ${request.method} ${request.path}`);
    }
  }

  #answerGetConnection(request: RecordedRequest): ScriptedReply {
    if (!request.integration) {
      return nangoError(400, 'missing_provider_config_key', 'provider_config_key is required');
    }
    if (this.missingIntegrations.has(request.integration)) return nangoReplies.unknownProviderConfig();
    const connection = this.getConnection(request.integration, request.connectionId ?? '');
    if (!connection) {
      const knownIntegration = this.connections.some((item) => item.integration === request.integration);
      return knownIntegration ? nangoReplies.notFound() : nangoReplies.unknownProviderConfig();
    }
    // Nango refreshes on read when forced or when the token expires within 15 minutes.
    const expiring =
      connection.expiresAt !== null && connection.expiresAt.getTime() - Date.now() < REFRESH_MARGIN_MS;
    if (request.query.force_refresh === 'true' || expiring) {
      this.providerTokenRequests++;
      this.rotateToken(connection.integration, connection.connectionId);
    }
    const credentials: Record<string, unknown> = {
      type: 'OAUTH2',
      access_token: connection.accessToken,
      ...(connection.expiresAt ? { expires_at: connection.expiresAt.toISOString() } : {}),
      raw: {
        token_type: connection.tokenType,
        ...(connection.scope !== null ? { scope: connection.scope } : {}),
        ...(connection.expiresAt
          ? { expires_in: Math.round((connection.expiresAt.getTime() - Date.now()) / 1000) }
          : {}),
      },
    };
    if (request.query.refresh_token === 'true') credentials.refresh_token = connection.refreshToken;
    return {
      status: 200,
      body: {
        id: connection.id,
        connection_id: connection.connectionId,
        provider_config_key: connection.integration,
        provider: connection.integration,
        created_at: connection.created.toISOString(),
        updated_at: new Date().toISOString(),
        credentials,
        connection_config: {},
        metadata: null,
        end_user: connection.endUserId ? { id: connection.endUserId } : null,
      },
    };
  }

  #answerConnectUi(method: string, authorization: string | undefined): ScriptedReply {
    const cors = {
      'access-control-allow-origin': '*',
      'access-control-allow-headers': 'authorization, content-type',
      'access-control-allow-methods': 'GET, POST, OPTIONS',
    };
    if (method === 'OPTIONS') return { status: 204, rawBody: '', headers: cors };
    const session = this.connectSessions.find((each) => authorization === `Bearer ${each.token}`);
    if (!session)
      return { ...nangoError(401, 'unknown_connect_session_token', 'Unknown session'), headers: cors };
    return {
      status: 200,
      headers: cors,
      body: {
        data: { end_user: { id: session.endUserId }, allowed_integrations: session.allowedIntegrations },
      },
    };
  }

  #answerListConnections(request: RecordedRequest): ScriptedReply {
    const { endUserId, integrationId } = request.query;
    const integrations = integrationId?.split(',');
    const connections = this.connections
      .filter((connection) => endUserId === undefined || connection.endUserId === endUserId)
      .filter((connection) => !integrations || integrations.includes(connection.integration))
      .map((connection) => ({
        id: connection.id,
        connection_id: connection.connectionId,
        provider: connection.integration,
        provider_config_key: connection.integration,
        created: connection.created.toISOString(),
        metadata: null,
        errors: [],
        end_user: connection.endUserId ? { id: connection.endUserId, email: null, display_name: null } : null,
      }));
    return { status: 200, body: { connections } };
  }

  #answerCreateConnectSession(request: RecordedRequest): ScriptedReply {
    const body = request.body as
      { end_user?: { id?: unknown }; allowed_integrations?: unknown } | null | undefined;
    const endUserId = body?.end_user?.id;
    if (typeof endUserId !== 'string' || endUserId === '') {
      return nangoError(400, 'invalid_body', 'end_user.id is required');
    }
    const allowed = Array.isArray(body?.allowed_integrations)
      ? body.allowed_integrations.filter((item): item is string => typeof item === 'string')
      : [];
    const unknown = allowed.findIndex((integration) => this.missingIntegrations.has(integration));
    if (unknown !== -1) {
      return {
        status: 400,
        body: {
          error: {
            code: 'invalid_body',
            errors: [
              {
                code: 'custom',
                message: 'Integration does not exist',
                path: ['allowed_integrations', unknown],
              },
            ],
          },
        },
      };
    }
    const session: ConnectSession = {
      token: `nango_connect_session_${randomBytes(16).toString('hex')}`,
      endUserId,
      allowedIntegrations: allowed,
      expiresAt: new Date(Date.now() + 30 * 60_000),
    };
    this.connectSessions.push(session);
    return {
      status: 201,
      body: {
        data: {
          token: session.token,
          connect_link: `${this.publicConnectUrl ?? this.#url}/?session_token=${session.token}`,
          expires_at: session.expiresAt.toISOString(),
        },
      },
    };
  }
}

/** Waits, or stops waiting when the server closes, so no timer outlives it. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

async function readBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return null;
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function send(response: ServerResponse, reply: ScriptedReply): void {
  if (response.destroyed || response.writableEnded) return;
  const text = reply.rawBody ?? JSON.stringify(reply.body ?? {});
  response.writeHead(reply.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...reply.headers,
  });
  response.end(text);
}
