import type { BuiltinProviderConfig } from '../../config/types.js';

/** How our client authenticates at the token endpoint. */
export interface OAuthClientSettings {
  clientId: string;
  clientSecret: string | null;
  authMethod: 'client_secret_basic' | 'client_secret_post' | 'none';
}

export function clientSettingsOf(provider: BuiltinProviderConfig): OAuthClientSettings {
  return {
    clientId: provider.clientId,
    clientSecret: provider.clientSecret,
    authMethod: provider.tokenEndpointAuthMethod,
  };
}

/** An authorization server as the source uses it: discovered, or built from configured URLs. */
export interface AuthorizationServerMetadata {
  readonly issuer: string;
  readonly authorizationEndpoint: string | null;
  readonly tokenEndpoint: string | null;
  readonly revocationEndpoint: string | null;
  /** RFC 9207: the server names itself in the callback, and a missing or foreign `iss` is refused. */
  readonly issParameterSupported: boolean;
  /** The whole metadata document, for checks the protocol library makes (ID token algorithms). */
  readonly document: Readonly<Record<string, unknown>>;
}

/** A successful token-endpoint answer. */
export interface TokenResponse {
  accessToken: string;
  /** `Bearer`, `DPoP` or what the provider said. */
  tokenType: string;
  expiresInSeconds: number | null;
  refreshToken: string | null;
  /** Space-separated scopes the provider granted, when it said. */
  scope: string | null;
}

export interface AuthorizationRequestParameters {
  redirectUri: string;
  state: string;
  /** S256 challenge; null when the provider is configured without PKCE. */
  codeChallenge: string | null;
  scopes: readonly string[];
  extra: Readonly<Record<string, string>>;
}

/**
 * The OAuth 2.0 protocol steps the built-in source takes, behind our own interface: the one
 * implementation uses oauth4webapi; unit tests pass a fake. Failed requests throw `OAuthRequestError`,
 * except when the caller's own signal aborted, which rethrows its reason.
 */
export interface OAuthProtocol {
  /** OIDC discovery, then RFC 8414 metadata; throws `DiscoveryError`. */
  discover(issuer: string, signal: AbortSignal): Promise<AuthorizationServerMetadata>;
  createState(): string;
  createPkce(): Promise<{ verifier: string; challenge: string }>;
  authorizationUrl(
    server: AuthorizationServerMetadata,
    client: OAuthClientSettings,
    parameters: AuthorizationRequestParameters,
  ): URL;
  /** Checks `iss` and `state` of a callback and turns a provider error into `OAuthRequestError`. */
  validateCallback(
    server: AuthorizationServerMetadata,
    client: OAuthClientSettings,
    query: URLSearchParams,
    expectedState: string,
  ): URLSearchParams;
  exchangeCode(
    server: AuthorizationServerMetadata,
    client: OAuthClientSettings,
    request: {
      callback: URLSearchParams;
      redirectUri: string;
      codeVerifier: string | null;
      signal: AbortSignal;
    },
  ): Promise<TokenResponse>;
  refresh(
    server: AuthorizationServerMetadata,
    client: OAuthClientSettings,
    refreshToken: string,
    signal: AbortSignal,
  ): Promise<TokenResponse>;
  clientCredentials(
    server: AuthorizationServerMetadata,
    client: OAuthClientSettings,
    scopes: readonly string[],
    signal: AbortSignal,
  ): Promise<TokenResponse>;
  revoke(
    server: AuthorizationServerMetadata,
    client: OAuthClientSettings,
    token: { value: string; hint: 'access_token' | 'refresh_token' },
    signal: AbortSignal,
  ): Promise<void>;
}
