/** What a request to a provider may carry: the part of `RequestInit` the built-in source uses. */
export interface ProviderRequestInit {
  method?: string;
  headers?: Headers | Record<string, string> | Array<[string, string]>;
  body?: string | URLSearchParams | Uint8Array | ArrayBuffer | null;
  signal?: AbortSignal | null;
  /** Redirects are never followed: a 3xx is the answer, as with `redirect: 'manual'`. */
  redirect?: 'manual';
}

/** A request ready for node:http: what fetch would put on the wire for the same arguments. */
export interface PreparedRequest {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: Uint8Array | null;
}

const NORMALIZED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);

/** A method fetch accepts, upper-cased where fetch does it (`patch` stays as written, as in fetch). */
function normalizeMethod(method: string | undefined): string {
  if (method === undefined) return 'GET';
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(method)) throw new TypeError(`"${method}" is not a valid method`);
  const upper = method.toUpperCase();
  return NORMALIZED_METHODS.has(upper) ? upper : method;
}

function encodeBody(body: ProviderRequestInit['body']): { bytes: Uint8Array | null; type: string | null } {
  if (body === undefined || body === null) return { bytes: null, type: null };
  if (typeof body === 'string') return { bytes: Buffer.from(body, 'utf8'), type: 'text/plain;charset=UTF-8' };
  if (body instanceof URLSearchParams) {
    return {
      bytes: Buffer.from(body.toString(), 'utf8'),
      type: 'application/x-www-form-urlencoded;charset=UTF-8',
    };
  }
  if (body instanceof Uint8Array) return { bytes: body, type: null };
  if (body instanceof ArrayBuffer) return { bytes: new Uint8Array(body), type: null };
  throw new TypeError('a provider request body is a string, URLSearchParams or bytes');
}

/**
 * Turns fetch's arguments into one request, with the headers fetch adds when the caller did not:
 * `accept: *\/*`, `user-agent: node` and the body's content type. A content length goes with every
 * body (and with a bodyless POST or PUT, as fetch sends). No compression is asked for: the answers
 * are small, and the body limit then counts what the provider sent.
 */
export function prepareRequest(input: string | URL, init: ProviderRequestInit = {}): PreparedRequest {
  const url = new URL(input);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`a provider request goes over http or https, not ${url.protocol}`);
  }
  if (url.username || url.password) throw new TypeError('a provider URL carries no credentials');
  const redirect: unknown = init.redirect;
  if (redirect !== undefined && redirect !== 'manual') {
    throw new TypeError("provider requests never follow redirects: pass redirect 'manual'");
  }
  const method = normalizeMethod(init.method);
  const { bytes, type } = encodeBody(init.body);
  if (bytes !== null && (method === 'GET' || method === 'HEAD')) {
    throw new TypeError(`a ${method} request has no body`);
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of new Headers(init.headers ?? {})) headers[name] = value;
  headers.accept ??= '*/*';
  headers['user-agent'] ??= 'node';
  if (type !== null) headers['content-type'] ??= type;
  if (bytes !== null) headers['content-length'] = String(bytes.byteLength);
  else if (method === 'POST' || method === 'PUT') headers['content-length'] = '0';
  headers['accept-encoding'] = 'identity';
  return { url, method, headers, body: bytes };
}
