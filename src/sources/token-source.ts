import type { ProviderConfig, TokenSourceKind } from '../config/types.js';
import type { WebhookDelivery, WebhookResult } from './webhook.js';

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

/**
 * How hard a fetch asks:
 * - `cached`: whatever the source holds, renewed by its own rules (near expiry);
 * - `recheck`: ask the source now (a connection was just made or a file lost), but never make the
 *   provider refresh a token the source still holds as valid;
 * - `refresh`: make the provider refresh, even a valid token.
 */
export type FetchMode = 'cached' | 'recheck' | 'refresh';

export interface FetchTokenRequest {
  owner: string;
  provider: ProviderConfig;
  mode: FetchMode;
  signal: AbortSignal;
}

export interface AuthorizationRequest {
  owner: string;
  provider: ProviderConfig;
  signal: AbortSignal;
}

export interface ConfirmConnectionRequest extends AuthorizationRequest {
  /** The connection the page was told of, when the source names connections. */
  connectionId: string | null;
}

/** What the page needs to start connecting a provider (`POST /api/connect-sessions`). */
export type ConnectStart =
  /** Open Nango's Connect UI with this session token (or send a person to `connect_link`). */
  | { flow: 'nango'; token: string; connect_link: string | null; expires_at: string | null }
  /** Open this (same-origin) URL in a popup; `token_synced` says when it is done. */
  | { flow: 'builtin'; authorizationUrl: string };

/**
 * Where tokens come from. Answers a token, "needs authorization" or "unavailable"; throws only for
 * configuration errors (`TokenSourceConfigError`) and untrustworthy answers (`InvalidSourceResponseError`).
 */
export interface TokenSource {
  readonly kind: TokenSourceKind;
  fetchToken(request: FetchTokenRequest): Promise<FetchOutcome>;
  /** A URL where the owner authorizes the provider, or null when none can be made now. */
  authorizationUrl(request: AuthorizationRequest): Promise<string | null>;
  /**
   * Whether an owner can authorize this provider at all (a client-credentials one cannot); a source
   * without it can connect what `startConnect` takes.
   */
  isConnectable?(provider: ProviderConfig): boolean;
  /**
   * How the page starts connecting; throws `NothingToAuthorizeError` when no owner can authorize.
   * A source without it has nothing for an owner to connect.
   */
  startConnect?(request: AuthorizationRequest): Promise<ConnectStart>;
  /**
   * The owner says the connection is made: the source checks it is there and is the owner's, and
   * records it; throws `ConnectionNotFoundError` otherwise. The caller then syncs with `recheck`.
   */
  confirmConnection?(request: ConfirmConnectionRequest): Promise<void>;
  /**
   * A webhook from the source's server, when it sends any: verified, checked against replays and
   * read into what to sync and what needs authorization. Throws `WebhookRejectedError`.
   */
  handleWebhook?(delivery: WebhookDelivery): Promise<WebhookResult>;
  /** Revokes or deletes the owner's connection at the source. */
  disconnect(request: AuthorizationRequest): Promise<void>;
  close(): Promise<void>;
}

/** Picks the source that serves a provider. */
export interface TokenSources {
  sourceFor(provider: ProviderConfig): TokenSource;
  close(): Promise<void>;
}

export type WebhookReceiver = TokenSource & Required<Pick<TokenSource, 'handleWebhook'>>;

/** Sources by kind, for the providers' `source` field. */
export class TokenSourceRegistry implements TokenSources {
  constructor(private readonly sources: Partial<Record<TokenSourceKind, TokenSource>>) {}

  sourceFor(provider: ProviderConfig): TokenSource {
    const source = this.sources[provider.source];
    if (!source)
      throw new Error(`no ${provider.source} token source is set up for provider "${provider.name}"`);
    return source;
  }

  /** The source of this kind when it takes webhooks, else null. */
  webhookReceiver(kind: string): WebhookReceiver | null {
    const source = Object.hasOwn(this.sources, kind) ? this.sources[kind as TokenSourceKind] : undefined;
    return source?.handleWebhook ? (source as WebhookReceiver) : null;
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.sources).map((source) => source?.close()));
  }
}
