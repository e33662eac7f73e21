import type { ProviderConfig, TokenSourceKind } from '../config/types.js';

/** A token as a source hands it over; only the token folder decides what reaches a skill. */
export interface SourceToken {
  accessToken: string;
  tokenType: string;
  expiresAt: Date | null;
  /** Scopes the provider granted, when it says; null means "as configured". */
  scopes: string[] | null;
  refreshToken: string | null;
}

export type FetchOutcome =
  | { status: 'token'; token: SourceToken }
  /** The user must (re)authorize; the token file is removed so skills ask. */
  | { status: 'needs_auth'; code: string; reason: string }
  /** Try again later; an existing token file stays as it is. */
  | { status: 'unavailable'; code: string; reason: string; retryAfterMs: number | null };

export interface FetchTokenRequest {
  owner: string;
  provider: ProviderConfig;
  /** Ask the source to refresh even when its token is still valid. */
  force: boolean;
  signal: AbortSignal;
}

export interface AuthorizationRequest {
  owner: string;
  provider: ProviderConfig;
  signal: AbortSignal;
}

/**
 * Where tokens come from. Answers a token, "needs authorization" or "unavailable"; throws only for
 * configuration errors (`TokenSourceConfigError`) and untrustworthy answers (`InvalidSourceResponseError`).
 */
export interface TokenSource {
  readonly kind: TokenSourceKind;
  fetchToken(request: FetchTokenRequest): Promise<FetchOutcome>;
  /** A URL where the owner authorizes the provider, or null when none can be made now. */
  authorizationUrl(request: AuthorizationRequest): Promise<string | null>;
  /** Revokes or deletes the owner's connection at the source. */
  disconnect(request: AuthorizationRequest): Promise<void>;
  close(): Promise<void>;
}

/** Picks the source that serves a provider. */
export interface TokenSources {
  sourceFor(provider: ProviderConfig): TokenSource;
  close(): Promise<void>;
}

/** Sources by kind, for the providers' `source` field. */
export class TokenSourceRegistry implements TokenSources {
  constructor(private readonly sources: Partial<Record<TokenSourceKind, TokenSource>>) {}

  sourceFor(provider: ProviderConfig): TokenSource {
    const source = this.sources[provider.source];
    if (!source)
      throw new Error(`no ${provider.source} token source is set up for provider "${provider.name}"`);
    return source;
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.sources).map((source) => source?.close()));
  }
}
