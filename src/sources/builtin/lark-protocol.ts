import { isSecureUrl } from '../../config/resolve-config.js';
import { TokenSourceConfigError } from '../../errors.js';
import { withTimeout } from '../../async/abort.js';
import { processLarkTokenAnswer } from './lark-token-response.js';
import { classifyOAuthFailure, OAuthRequestError } from './map-oauth-error.js';
import { providerFetch, type ProviderFetch } from './provider-fetch.js';
import type {
  AuthorizationRequestParameters,
  AuthorizationServerMetadata,
  OAuthClientSettings,
  OAuthProtocol,
  TokenResponse,
} from './oauth-protocol.js';

export interface LarkProtocolOptions {
  /** The standard protocol: state, PKCE, the authorization URL and the callback are plain OAuth 2.0. */
  standard: OAuthProtocol;
  requestTimeoutMs?: number;
  now?: () => number;
  /** How requests reach Lark: the shared node:http client unless given. */
  fetch?: ProviderFetch;
}

/**
 * Lark's (Feishu's) user OAuth: authorization as OAuth 2.0 with PKCE, but the v2 token endpoint takes
 * a JSON body with `client_id` and `client_secret` in it and answers `{ code, ... }` with Lark's own
 * numeric error codes. Each refresh token works once; the answer to a refresh holds the next one.
 */
export class LarkProtocol implements OAuthProtocol {
  readonly #standard: OAuthProtocol;
  readonly #requestTimeoutMs: number;
  readonly #now: () => number;
  readonly #fetch: ProviderFetch;

  constructor(options: LarkProtocolOptions) {
    this.#standard = options.standard;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
    this.#now = options.now ?? Date.now;
    this.#fetch = options.fetch ?? providerFetch;
  }

  discover(issuer: string, signal: AbortSignal): Promise<AuthorizationServerMetadata> {
    return this.#standard.discover(issuer, signal);
  }

  createState(): string {
    return this.#standard.createState();
  }

  createPkce(): Promise<{ verifier: string; challenge: string }> {
    return this.#standard.createPkce();
  }

  /** Lark's default challenge method is `plain`: the standard URL names S256 whenever it sends a challenge. */
  authorizationUrl(
    server: AuthorizationServerMetadata,
    client: OAuthClientSettings,
    parameters: AuthorizationRequestParameters,
  ): URL {
    return this.#standard.authorizationUrl(server, client, parameters);
  }

  validateCallback(
    server: AuthorizationServerMetadata,
    client: OAuthClientSettings,
    query: URLSearchParams,
    expectedState: string,
  ): URLSearchParams {
    return this.#standard.validateCallback(server, client, query, expectedState);
  }

  exchangeCode(
    server: AuthorizationServerMetadata,
    client: OAuthClientSettings,
    request: {
      callback: URLSearchParams;
      redirectUri: string;
      codeVerifier: string | null;
      signal: AbortSignal;
    },
  ): Promise<TokenResponse> {
    const code = request.callback.get('code');
    if (!code) {
      return Promise.reject(
        new OAuthRequestError({
          kind: 'invalid_response',
          providerError: null,
          status: null,
          retryAfterMs: null,
          description: 'the callback holds no authorization code',
        }),
      );
    }
    return this.#tokenRequest(server, client, request.signal, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: request.redirectUri,
      ...(request.codeVerifier === null ? {} : { code_verifier: request.codeVerifier }),
    });
  }

  refresh(
    server: AuthorizationServerMetadata,
    client: OAuthClientSettings,
    refreshToken: string,
    signal: AbortSignal,
  ): Promise<TokenResponse> {
    return this.#tokenRequest(server, client, signal, {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
    });
  }

  clientCredentials(): Promise<TokenResponse> {
    return Promise.reject(
      new TokenSourceConfigError("Lark's user OAuth has no client_credentials grant: use authorization_code"),
    );
  }

  /** Lark has no revocation endpoint for user tokens: there is nothing to call unless one is configured. */
  revoke(
    server: AuthorizationServerMetadata,
    client: OAuthClientSettings,
    token: { value: string; hint: 'access_token' | 'refresh_token' },
    signal: AbortSignal,
  ): Promise<void> {
    return this.#standard.revoke(server, client, token, signal);
  }

  async #tokenRequest(
    server: AuthorizationServerMetadata,
    client: OAuthClientSettings,
    signal: AbortSignal,
    grant: Record<string, string>,
  ): Promise<TokenResponse> {
    const endpoint = server.tokenEndpoint;
    if (!endpoint)
      throw new TokenSourceConfigError(`the OAuth server ${server.issuer} has no token endpoint`);
    if (!isSecureUrl(endpoint)) {
      throw new TokenSourceConfigError(
        `the token endpoint of ${server.issuer} does not use https (plain http is allowed only on loopback)`,
      );
    }
    if (client.clientSecret === null) {
      throw new TokenSourceConfigError(
        `Lark client "${client.clientId}" needs its clientSecret (the App Secret)`,
      );
    }
    let response: Response;
    let body: unknown;
    try {
      response = await this.#fetch(endpoint, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/json; charset=utf-8', accept: 'application/json' },
        body: JSON.stringify({ ...grant, client_id: client.clientId, client_secret: client.clientSecret }),
        signal: withTimeout(signal, this.#requestTimeoutMs),
      });
      const text = await response.text();
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
    } catch (error) {
      signal.throwIfAborted();
      const failure = classifyOAuthFailure(error, this.#now());
      throw failure ? new OAuthRequestError(failure, { cause: error }) : error;
    }
    const outcome = processLarkTokenAnswer(
      { status: response.status, retryAfter: response.headers.get('retry-after'), body },
      this.#now(),
    );
    if (!outcome.ok) throw new OAuthRequestError(outcome.failure);
    return outcome.response;
  }
}
