import * as oauth from 'oauth4webapi';
import { isLoopbackHost } from '../../config/resolve-config.js';
import { TokenSourceConfigError } from '../../errors.js';
import { withTimeout } from '../../async/abort.js';
import { DiscoveryError } from './builtin-errors.js';
import { classifyOAuthFailure, OAuthRequestError } from './map-oauth-error.js';
import { providerFetch, type ProviderFetch } from './provider-fetch.js';
import type {
  AuthorizationRequestParameters,
  AuthorizationServerMetadata,
  OAuthClientSettings,
  OAuthProtocol,
  TokenResponse,
} from './oauth-protocol.js';

export interface Oauth4webapiProtocolOptions {
  /** Longest a single request to a provider may take. */
  requestTimeoutMs?: number;
  now?: () => number;
  /** How requests reach the provider: the shared node:http client unless given. */
  fetch?: ProviderFetch;
}

/**
 * Plain http is allowed for loopback URLs only (a local provider, the demo, tests). The decision is
 * made here from the URL of each request, never taken from configuration.
 */
export function insecureRequestsFor(url: string): { [oauth.allowInsecureRequests]?: true } {
  const parsed = new URL(url);
  return parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname)
    ? { [oauth.allowInsecureRequests]: true }
    : {};
}

function toAuthorizationServer(server: AuthorizationServerMetadata): oauth.AuthorizationServer {
  return {
    ...(server.document as oauth.AuthorizationServer),
    issuer: server.issuer,
    authorization_endpoint: server.authorizationEndpoint ?? undefined,
    token_endpoint: server.tokenEndpoint ?? undefined,
    revocation_endpoint: server.revocationEndpoint ?? undefined,
    authorization_response_iss_parameter_supported: server.issParameterSupported,
  };
}

/** Our metadata from a discovered document. */
export function metadataFromDocument(document: oauth.AuthorizationServer): AuthorizationServerMetadata {
  return {
    issuer: document.issuer,
    authorizationEndpoint: document.authorization_endpoint ?? null,
    tokenEndpoint: document.token_endpoint ?? null,
    revocationEndpoint: document.revocation_endpoint ?? null,
    issParameterSupported: document.authorization_response_iss_parameter_supported === true,
    document: { ...document },
  };
}

function clientAuthentication(client: OAuthClientSettings): oauth.ClientAuth {
  if (client.authMethod === 'none') return oauth.None();
  if (client.clientSecret === null) {
    throw new TokenSourceConfigError(
      `client "${client.clientId}" uses ${client.authMethod} but has no clientSecret`,
    );
  }
  return client.authMethod === 'client_secret_post'
    ? oauth.ClientSecretPost(client.clientSecret)
    : oauth.ClientSecretBasic(client.clientSecret);
}

function toTokenResponse(response: oauth.TokenEndpointResponse): TokenResponse {
  const tokenType =
    response.token_type === 'bearer'
      ? 'Bearer'
      : response.token_type === 'dpop'
        ? 'DPoP'
        : response.token_type;
  return {
    accessToken: response.access_token,
    tokenType,
    expiresInSeconds: typeof response.expires_in === 'number' ? response.expires_in : null,
    refreshToken: response.refresh_token ?? null,
    scope: response.scope ?? null,
  };
}

/** The OAuth 2.0 protocol through oauth4webapi: every request built, sent and checked by it. */
export class Oauth4webapiProtocol implements OAuthProtocol {
  readonly #requestTimeoutMs: number;
  readonly #now: () => number;
  readonly #fetch: ProviderFetch;

  constructor(options: Oauth4webapiProtocolOptions = {}) {
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
    this.#now = options.now ?? Date.now;
    this.#fetch = options.fetch ?? providerFetch;
  }

  async discover(issuer: string, signal: AbortSignal): Promise<AuthorizationServerMetadata> {
    const issuerUrl = new URL(issuer);
    const attempt = async (algorithm: 'oidc' | 'oauth2') => {
      const response = await oauth.discoveryRequest(issuerUrl, {
        algorithm,
        signal: withTimeout(signal, this.#requestTimeoutMs),
        [oauth.customFetch]: this.#fetch,
        ...insecureRequestsFor(issuer),
      });
      return oauth.processDiscoveryResponse(issuerUrl, response);
    };
    let document: oauth.AuthorizationServer;
    try {
      document = await attempt('oidc');
    } catch (oidcError) {
      signal.throwIfAborted();
      try {
        document = await attempt('oauth2');
      } catch (oauthError) {
        signal.throwIfAborted();
        // The OpenID answer says more when the plain OAuth document is simply absent.
        const failure =
          classifyOAuthFailure(oidcError, this.#now()) ?? classifyOAuthFailure(oauthError, this.#now());
        throw new DiscoveryError(
          `cannot discover the OAuth server at ${issuer}: ${failure?.description ?? 'unexpected error'}`,
          { cause: oidcError },
        );
      }
    }
    return metadataFromDocument(document);
  }

  createState(): string {
    return oauth.generateRandomState();
  }

  async createPkce(): Promise<{ verifier: string; challenge: string }> {
    const verifier = oauth.generateRandomCodeVerifier();
    return { verifier, challenge: await oauth.calculatePKCECodeChallenge(verifier) };
  }

  authorizationUrl(
    server: AuthorizationServerMetadata,
    client: OAuthClientSettings,
    parameters: AuthorizationRequestParameters,
  ): URL {
    if (!server.authorizationEndpoint) {
      throw new TokenSourceConfigError(`the OAuth server ${server.issuer} has no authorization endpoint`);
    }
    const url = new URL(server.authorizationEndpoint);
    for (const [name, value] of Object.entries(parameters.extra)) url.searchParams.set(name, value);
    // Ours last: configured extra parameters cannot replace state, PKCE or the redirect URI.
    url.searchParams.set('client_id', client.clientId);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('redirect_uri', parameters.redirectUri);
    url.searchParams.set('state', parameters.state);
    if (parameters.scopes.length > 0) url.searchParams.set('scope', parameters.scopes.join(' '));
    if (parameters.codeChallenge !== null) {
      url.searchParams.set('code_challenge', parameters.codeChallenge);
      url.searchParams.set('code_challenge_method', 'S256');
    }
    return url;
  }

  validateCallback(
    server: AuthorizationServerMetadata,
    client: OAuthClientSettings,
    query: URLSearchParams,
    expectedState: string,
  ): URLSearchParams {
    try {
      return oauth.validateAuthResponse(
        toAuthorizationServer(server),
        { client_id: client.clientId },
        query,
        expectedState,
      );
    } catch (error) {
      throw this.#requestError(error);
    }
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
    return this.#tokenRequest(server, request.signal, async (as, options) => {
      const response = await oauth.authorizationCodeGrantRequest(
        as,
        { client_id: client.clientId },
        clientAuthentication(client),
        request.callback,
        request.redirectUri,
        request.codeVerifier ?? oauth.nopkce,
        options,
      );
      return oauth.processAuthorizationCodeResponse(as, { client_id: client.clientId }, response);
    });
  }

  refresh(
    server: AuthorizationServerMetadata,
    client: OAuthClientSettings,
    refreshToken: string,
    signal: AbortSignal,
  ): Promise<TokenResponse> {
    return this.#tokenRequest(server, signal, async (as, options) => {
      const response = await oauth.refreshTokenGrantRequest(
        as,
        { client_id: client.clientId },
        clientAuthentication(client),
        refreshToken,
        options,
      );
      return oauth.processRefreshTokenResponse(as, { client_id: client.clientId }, response);
    });
  }

  clientCredentials(
    server: AuthorizationServerMetadata,
    client: OAuthClientSettings,
    scopes: readonly string[],
    signal: AbortSignal,
  ): Promise<TokenResponse> {
    return this.#tokenRequest(server, signal, async (as, options) => {
      const parameters: Record<string, string> = scopes.length > 0 ? { scope: scopes.join(' ') } : {};
      const response = await oauth.clientCredentialsGrantRequest(
        as,
        { client_id: client.clientId },
        clientAuthentication(client),
        parameters,
        options,
      );
      return oauth.processClientCredentialsResponse(as, { client_id: client.clientId }, response);
    });
  }

  async revoke(
    server: AuthorizationServerMetadata,
    client: OAuthClientSettings,
    token: { value: string; hint: 'access_token' | 'refresh_token' },
    signal: AbortSignal,
  ): Promise<void> {
    if (!server.revocationEndpoint) return;
    try {
      const response = await oauth.revocationRequest(
        toAuthorizationServer(server),
        { client_id: client.clientId },
        clientAuthentication(client),
        token.value,
        {
          additionalParameters: { token_type_hint: token.hint },
          signal: withTimeout(signal, this.#requestTimeoutMs),
          [oauth.customFetch]: this.#fetch,
          ...insecureRequestsFor(server.revocationEndpoint),
        },
      );
      await oauth.processRevocationResponse(response);
    } catch (error) {
      signal.throwIfAborted();
      throw this.#requestError(error);
    }
  }

  async #tokenRequest(
    server: AuthorizationServerMetadata,
    signal: AbortSignal,
    send: (
      as: oauth.AuthorizationServer,
      options: oauth.TokenEndpointRequestOptions,
    ) => Promise<oauth.TokenEndpointResponse>,
  ): Promise<TokenResponse> {
    if (!server.tokenEndpoint) {
      throw new TokenSourceConfigError(`the OAuth server ${server.issuer} has no token endpoint`);
    }
    try {
      const response = await send(toAuthorizationServer(server), {
        signal: withTimeout(signal, this.#requestTimeoutMs),
        [oauth.customFetch]: this.#fetch,
        ...insecureRequestsFor(server.tokenEndpoint),
      });
      return toTokenResponse(response);
    } catch (error) {
      signal.throwIfAborted();
      if (error instanceof TokenSourceConfigError) throw error;
      throw this.#requestError(error);
    }
  }

  #requestError(error: unknown): unknown {
    const failure = classifyOAuthFailure(error, this.#now());
    return failure ? new OAuthRequestError(failure, { cause: error }) : error;
  }
}
