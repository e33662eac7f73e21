import type { z } from 'zod';

export type HttpMethod = 'GET' | 'POST' | 'DELETE';

/**
 * `api`: the API token (Bearer) or the page's session cookie, with Origin checks on state changes.
 * `public`: anyone who reaches the port (the page's files, login, signed webhooks, OAuth callbacks).
 */
export type RouteAccess = 'api' | 'public';

/** How an `api` caller proved who it is. */
export type Authentication = 'token' | 'session';

export interface RouteRequest<Body = unknown, Params = unknown, Query = unknown> {
  method: HttpMethod;
  body: Body;
  params: Params;
  query: Query;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Readonly<Record<string, string | undefined>>;
  cookies: Readonly<Record<string, string | undefined>>;
  /** The body exactly as received, for routes that ask for it (signature checks). */
  rawBody: Buffer | null;
  /** Aborted when the client goes away or the server shuts down. */
  signal: AbortSignal;
  authentication: Authentication | null;
}

export interface CookieToSet {
  name: string;
  value: string;
  /** 0 removes the cookie. */
  maxAgeSeconds: number;
  /** Strict unless a cross-site redirect must carry it back (an OAuth callback needs lax). */
  sameSite?: 'strict' | 'lax';
  path?: string;
}

interface ResponseExtras {
  headers?: Record<string, string>;
  cookies?: CookieToSet[];
}

/** A live `text/event-stream` response. */
export interface EventStream {
  /** Writes raw SSE text; false once the client is gone. */
  write(text: string): boolean;
  /** Runs once, when the client disconnects or the server ends the stream. */
  onClose(listener: () => void): void;
  close(): void;
  readonly closed: boolean;
}

export type RouteResponse =
  | ({ kind: 'json'; status: number; body: unknown } & ResponseExtras)
  | ({ kind: 'redirect'; status: 302 | 303; location: string } & ResponseExtras)
  | ({ kind: 'content'; status: number; contentType: string; body: string | Buffer } & ResponseExtras)
  | { kind: 'event-stream'; open(stream: EventStream): void };

export interface RouteDefinition<Body = unknown, Params = unknown, Query = unknown> {
  method: HttpMethod;
  /** fastify-style path: `/api/skills/:name/run`. */
  path: string;
  access: RouteAccess;
  /** Validates the JSON body; without it a body is refused. */
  body?: z.ZodType<Body>;
  params?: z.ZodType<Params>;
  query?: z.ZodType<Query>;
  /** Hand the raw body to the handler unparsed (signature checks come before parsing). */
  rawBody?: boolean;
  /** Bytes; the server's default (64 KiB) otherwise. */
  bodyLimit?: number;
  /** Accept any Host header (webhooks arrive through proxies and tunnels). */
  anyHost?: boolean;
  handle(request: RouteRequest<Body, Params, Query>): Promise<RouteResponse> | RouteResponse;
}

// Routes of different shapes share one list; each was checked by `defineRoute` where it was written.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRoute = RouteDefinition<any, any, any>;

/** Declares a route with its types inferred from its schemas. */
export function defineRoute<Body = undefined, Params = unknown, Query = unknown>(
  route: RouteDefinition<Body, Params, Query>,
): RouteDefinition<Body, Params, Query> {
  return route;
}

export function json(status: number, body: unknown, extras: ResponseExtras = {}): RouteResponse {
  return { kind: 'json', status, body, ...extras };
}

export function redirect(
  location: string,
  extras: ResponseExtras = {},
  status: 302 | 303 = 303,
): RouteResponse {
  return { kind: 'redirect', status, location, ...extras };
}
