import { STATUS_CODES } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import fastifyCookie from '@fastify/cookie';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { formatPath } from '../../config/interpolate.js';
import { describeError, NanoclawError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { RequestGuard } from '../auth/request-guard.js';
import { HttpError, statusForError } from './http-error.js';
import type { AnyRoute, Authentication, EventStream, HttpMethod, RouteResponse } from './route.js';

/** Bytes an event stream may have queued for a slow client before it is closed. */
const MAX_STREAM_BUFFER = 1024 * 1024;

/** Default request body limit; routes may set their own. */
export const DEFAULT_BODY_LIMIT = 64 * 1024;
/** How long a client may take to send a whole request. */
const REQUEST_TIMEOUT_MS = 30_000;

export interface WebServerOptions {
  host: string;
  port: number;
  guard: RequestGuard;
  logger: Logger;
  /** Set `Secure` on cookies (the public URL is https). */
  secureCookies?: boolean;
  bodyLimit?: number;
}

export interface ListeningAddress {
  host: string;
  port: number;
  /** `http://host:port` as this machine reaches it. */
  url: string;
}

/**
 * The HTTP server, and the only module that knows fastify. Routes are plain definitions (schemas and
 * a handler returning a response value); this module authenticates, validates, limits bodies and
 * turns every failure into `{error: {code, message}}`.
 */
export class WebServer {
  readonly #app: FastifyInstance;
  readonly #guard: RequestGuard;
  readonly #logger: Logger;
  readonly #secureCookies: boolean;
  readonly #streams = new Set<EventStream>();
  /** Aborted on close: handlers still running stop waiting for slow sources. */
  readonly #closing = new AbortController();
  #address: ListeningAddress | null = null;
  #closed: Promise<void> | null = null;

  constructor(private readonly options: WebServerOptions) {
    this.#guard = options.guard;
    this.#logger = options.logger;
    this.#secureCookies = options.secureCookies ?? false;
    this.#app = Fastify({
      logger: false,
      bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
      // A client that sends half a request and stalls must not hold a connection forever; the
      // event stream is unaffected (its request is complete, only the response is long).
      requestTimeout: REQUEST_TIMEOUT_MS,
      return503OnClosing: true,
      forceCloseConnections: 'idle',
      routerOptions: { maxParamLength: 256 },
      clientErrorHandler: answerClientError,
    });
    this.#app.register(fastifyCookie);
    // Bodies stay raw buffers: signed webhooks need the exact bytes; JSON is parsed per route.
    this.#app.removeAllContentTypeParsers();
    this.#app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) =>
      done(null, body),
    );
    this.#app.setErrorHandler((error, request, reply) => this.#sendError(error, request, reply));
    this.#app.setNotFoundHandler((request, reply) =>
      this.#sendError(
        new HttpError(404, 'NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`),
        request,
        reply,
      ),
    );
    this.#app.addHook('onSend', async (_request, reply) => {
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
    });
  }

  /** Adds routes; only before `listen`. */
  addRoutes(routes: readonly AnyRoute[]): void {
    for (const route of routes) this.#addRoute(route);
  }

  get address(): ListeningAddress | null {
    return this.#address;
  }

  /** Aborted when the server starts closing. */
  get closingSignal(): AbortSignal {
    return this.#closing.signal;
  }

  async listen(): Promise<ListeningAddress> {
    const { host, port } = this.options;
    try {
      await this.#app.listen({ host, port });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
        throw new NanoclawError(
          'LISTEN_FAILED',
          `cannot listen on ${host}:${port} (${code}): choose another --port or --host`,
          { cause: error },
        );
      }
      throw error;
    }
    const info = this.#app.server.address() as AddressInfo;
    const bound = info.address;
    const shown = bound === '0.0.0.0' ? '127.0.0.1' : bound === '::' ? '::1' : bound;
    this.#address = {
      host: bound,
      port: info.port,
      url: `http://${shown.includes(':') ? `[${shown}]` : shown}:${info.port}`,
    };
    return this.#address;
  }

  /** Stops accepting, ends event streams, lets requests in flight finish, and frees the port. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort(new Error('the server is shutting down'));
      for (const stream of [...this.#streams]) stream.close();
      await this.#app.close();
    })();
    return this.#closed;
  }

  #addRoute(route: AnyRoute): void {
    this.#app.route({
      method: route.method,
      url: route.path,
      ...(route.bodyLimit !== undefined ? { bodyLimit: route.bodyLimit } : {}),
      handler: async (request, reply) => {
        const headers = normalizeHeaders(request.headers);
        const method = request.method as HttpMethod;
        const cookies = (request.cookies ?? {}) as Record<string, string | undefined>;
        if (!route.anyHost) this.#guard.checkHost(headers);
        let authentication: Authentication | null = null;
        if (route.access === 'api')
          authentication = await this.#guard.authenticate({ method, headers, cookies });

        const raw = Buffer.isBuffer(request.body) ? request.body : null;
        const body = route.rawBody ? undefined : parseBody(route, raw);
        const params = validate('params', route.params, request.params ?? {});
        const query = validate('query', route.query, request.query ?? {});

        const controller = new AbortController();
        const abort = () => controller.abort(new Error('the request ended'));
        reply.raw.once('close', abort);
        this.#closing.signal.addEventListener('abort', abort, { once: true });
        try {
          const response = await route.handle({
            method,
            body,
            params,
            query,
            headers,
            cookies,
            rawBody: route.rawBody ? (raw ?? Buffer.alloc(0)) : null,
            signal: controller.signal,
            authentication,
          });
          return this.#send(response, request, reply);
        } finally {
          // Streams have their own close listeners; this signal only covers the handler's own work.
          this.#closing.signal.removeEventListener('abort', abort);
          reply.raw.off('close', abort);
        }
      },
    });
  }

  #send(response: RouteResponse, request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
    if (response.kind === 'event-stream') {
      this.#openStream(response, request, reply);
      return undefined;
    }
    for (const [name, value] of Object.entries(response.headers ?? {})) reply.header(name, value);
    for (const cookie of response.cookies ?? []) {
      reply.setCookie(cookie.name, cookie.value, {
        path: cookie.path ?? '/',
        httpOnly: true,
        sameSite: cookie.sameSite ?? 'strict',
        secure: this.#secureCookies,
        maxAge: cookie.maxAgeSeconds,
      });
    }
    if (response.kind === 'redirect')
      return reply.code(response.status).redirect(response.location, response.status);
    if (response.kind === 'content') {
      return reply.code(response.status).type(response.contentType).send(response.body);
    }
    reply.header('cache-control', 'no-store');
    return reply
      .code(response.status)
      .type('application/json; charset=utf-8')
      .send(JSON.stringify(response.body));
  }

  #openStream(
    response: Extract<RouteResponse, { kind: 'event-stream' }>,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store, no-transform',
      connection: 'keep-alive',
      'x-content-type-options': 'nosniff',
      'x-accel-buffering': 'no',
    });
    raw.flushHeaders();
    const listeners: Array<() => void> = [];
    let closed = false;
    const finish = () => {
      if (closed) return;
      closed = true;
      this.#streams.delete(stream);
      for (const listener of listeners.splice(0)) {
        try {
          listener();
        } catch (error) {
          this.#logger.error(describeError(error), 'event stream close listener failed');
        }
      }
    };
    const stream: EventStream = {
      write: (text) => {
        if (closed || raw.destroyed) return false;
        // A client that stopped reading is cut off (it reconnects and replays) rather than buffered forever.
        if (raw.writableLength > MAX_STREAM_BUFFER) {
          stream.close();
          return false;
        }
        raw.write(text);
        return true;
      },
      onClose: (listener) => {
        if (closed) listener();
        else listeners.push(listener);
      },
      close: () => {
        if (!raw.writableEnded) raw.end();
        finish();
      },
      get closed() {
        return closed;
      },
    };
    this.#streams.add(stream);
    raw.once('close', finish);
    request.raw.socket?.setKeepAlive(true);
    response.open(stream);
  }

  #sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const { status, code, message } = describeHttpError(error);
    if (status >= 500) {
      this.#logger.error(
        { ...describeError(error), route: request.routeOptions.url ?? null },
        'request failed',
      );
    }
    reply.header('cache-control', 'no-store');
    return reply
      .code(status)
      .type('application/json; charset=utf-8')
      .send(JSON.stringify({ error: { code, message } }));
  }
}

/** Maps handler errors, framework errors and product errors onto a status, a stable code and a safe message. */
export function describeHttpError(error: unknown): { status: number; code: string; message: string } {
  // Product errors carry no secret in their message by contract; anything else is hidden.
  if (error instanceof NanoclawError) {
    return { status: statusForError(error), code: error.code, message: error.message };
  }
  const framework = error as { code?: unknown; statusCode?: unknown };
  switch (framework?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'the request body is too large' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
        message: 'send the body as application/json',
      };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'INVALID_REQUEST', message: 'the request body is malformed' };
  }
  if (
    typeof framework?.statusCode === 'number' &&
    framework.statusCode >= 400 &&
    framework.statusCode < 500
  ) {
    return { status: framework.statusCode, code: 'INVALID_REQUEST', message: 'the request is malformed' };
  }
  return { status: 500, code: 'INTERNAL', message: 'internal error' };
}

/**
 * Requests Node cannot even parse (a body cut short, a bad Content-Length or chunk, a broken request
 * line) never reach a route: they get the API's `{error: {code, message}}` shape too, not fastify's own.
 */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'REQUEST_TIMEOUT', 'the request did not arrive in time']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'HEADERS_TOO_LARGE', 'the request headers are too large']
        : [400, 'INVALID_REQUEST', 'the request is malformed'];
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

function normalizeHeaders(headers: FastifyRequest['headers']): Record<string, string | undefined> {
  const result: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    result[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return result;
}

function parseBody(route: AnyRoute, raw: Buffer | null): unknown {
  if (!route.body) {
    if (raw !== null && raw.length > 0) {
      throw new HttpError(400, 'INVALID_REQUEST', 'body: this endpoint takes no body');
    }
    return undefined;
  }
  if (raw === null || raw.length === 0) {
    throw new HttpError(400, 'INVALID_REQUEST', 'body: expected a JSON object');
  }
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, 'INVALID_JSON', 'body: not valid JSON');
  }
  return validate('body', route.body, value);
}

function validate(where: string, schema: z.ZodType | undefined, value: unknown): unknown {
  if (!schema) return value;
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const path = formatPath(issue.path);
    return `${path === '(root)' ? where : `${where}.${path}`}: ${issue.message}`;
  });
  throw new HttpError(400, 'INVALID_REQUEST', problems.join('; '));
}
