import http from 'node:http';
import https from 'node:https';
import { ProviderAnswerError } from './builtin-errors.js';
import { prepareRequest, type PreparedRequest, type ProviderRequestInit } from './provider-request.js';

export type { ProviderRequestInit } from './provider-request.js';

/** `fetch` as the built-in source uses it for every request to a provider. */
export type ProviderFetch = (input: string | URL, init?: ProviderRequestInit) => Promise<Response>;

/** The largest answer read from a provider: token and metadata answers are a few kilobytes. */
export const MAX_PROVIDER_ANSWER_BYTES = 1024 * 1024;

/**
 * An idle kept-alive socket is closed after this long: under the 5 s after which common servers
 * (Node's among them) close theirs, so a request is rarely sent on a socket the server is closing.
 */
const IDLE_SOCKET_MS = 4_000;

/** Statuses whose answer has no body, for which a `Response` refuses one. */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

export interface ProviderHttpOptions {
  maxAnswerBytes?: number;
  /** How long a kept-alive socket may stay idle; a slow answer on a busy socket is not cut by it. */
  idleSocketMs?: number;
}

/**
 * Requests to providers over node:http and node:https with kept-alive sockets: a fraction of the
 * CPU that global `fetch` spends per request, which bounds a wave of refreshes. Answers as fetch does
 * for what the source uses: a global `Response` (read whole, at most `maxAnswerBytes`), the signal's
 * reason when the signal aborts, `TypeError('fetch failed')` with Node's error (and its `code`) as
 * cause when the network fails, and never a followed redirect. TLS is checked with Node's defaults
 * (its CA store and NODE_EXTRA_CA_CERTS). Idle sockets do not keep a process alive; `close()` ends them.
 */
export class ProviderHttp {
  readonly #httpAgent: http.Agent;
  readonly #httpsAgent: https.Agent;
  readonly #maxAnswerBytes: number;

  constructor(options: ProviderHttpOptions = {}) {
    this.#maxAnswerBytes = options.maxAnswerBytes ?? MAX_PROVIDER_ANSWER_BYTES;
    const timeout = options.idleSocketMs ?? IDLE_SOCKET_MS;
    this.#httpAgent = new http.Agent({ keepAlive: true, timeout });
    this.#httpsAgent = new https.Agent({ keepAlive: true, timeout });
  }

  /** Sends one request and reads its whole answer; bound, so it can be handed on as a function. */
  readonly fetch: ProviderFetch = (input, init = {}) => {
    let prepared: PreparedRequest;
    try {
      prepared = prepareRequest(input, init);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#send(prepared, init.signal ?? null);
  };

  /** Ends every socket, idle or busy: requests still running fail as network errors. */
  close(): void {
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }

  #send(prepared: PreparedRequest, signal: AbortSignal | null): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      let settled = false;
      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        outcome();
      };
      const fail = (error: unknown) => {
        settle(() => reject(error));
        request.destroy();
      };
      const networkFailure = (cause: unknown) =>
        settle(() => reject(new TypeError('fetch failed', { cause })));

      const secure = prepared.url.protocol === 'https:';
      const request = (secure ? https.request : http.request)(prepared.url, {
        method: prepared.method,
        headers: prepared.headers,
        agent: secure ? this.#httpsAgent : this.#httpAgent,
      });
      const onAbort = () => fail(signal!.reason);
      signal?.addEventListener('abort', onAbort, { once: true });

      request.on('error', networkFailure);
      request.on('response', (answer) => {
        const status = answer.statusCode ?? 0;
        if (status < 200 || status > 599) {
          fail(
            new ProviderAnswerError(
              `the provider answered with HTTP status ${status}, which HTTP does not have`,
            ),
          );
          return;
        }
        if (Number(answer.headers['content-length']) > this.#maxAnswerBytes) {
          fail(this.#tooLarge());
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        answer.on('data', (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > this.#maxAnswerBytes) fail(this.#tooLarge());
          else chunks.push(chunk);
        });
        answer.on('error', networkFailure);
        answer.on('close', () => {
          if (!answer.complete) networkFailure(answerCutError());
        });
        answer.on('end', () => {
          settle(() => {
            try {
              resolve(toResponse(answer, prepared.method, Buffer.concat(chunks, size)));
            } catch (error) {
              reject(new TypeError('fetch failed', { cause: error }));
            }
          });
        });
      });
      request.end(prepared.body ?? undefined);
    });
  }

  #tooLarge(): ProviderAnswerError {
    return new ProviderAnswerError(
      `the provider's answer is over ${formatBytes(this.#maxAnswerBytes)} and was not read`,
    );
  }
}

function formatBytes(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}

/** The connection closed before the whole answer came: the same code as a reset, as Node reports it. */
function answerCutError(): Error {
  return Object.assign(new Error('the connection closed before the whole answer arrived'), {
    code: 'ECONNRESET',
  });
}

/** A global `Response`, so oauth4webapi's checks and header reads work as they do with fetch. */
function toResponse(answer: http.IncomingMessage, method: string, body: Buffer): Response {
  const status = answer.statusCode!;
  const headers = new Headers();
  const raw = answer.rawHeaders;
  for (let index = 0; index + 1 < raw.length; index += 2) headers.append(raw[index]!, raw[index + 1]!);
  const hasBody = method !== 'HEAD' && !NULL_BODY_STATUSES.has(status);
  return new Response(hasBody ? body : null, {
    status,
    statusText: answer.statusMessage ?? '',
    headers,
  });
}

/**
 * The one client every provider request of the built-in source goes through, unless a caller brings
 * its own. It lives as long as the process; its idle sockets never hold the process open.
 */
export const sharedProviderHttp = new ProviderHttp();

/** `fetch` for provider requests, through `sharedProviderHttp`. */
export const providerFetch: ProviderFetch = sharedProviderHttp.fetch;
