import { setMaxListeners } from 'node:events';
import type { BuiltinProviderConfig, ProviderConfig } from '../../config/types.js';
import { InvalidSourceResponseError, TokenSourceConfigError, UnknownProviderError } from '../../errors.js';
import { SingleFlight } from '../../async/single-flight.js';
import { NothingToAuthorizeError } from '../connection-errors.js';
import type {
  AuthorizationRequest,
  ConnectStart,
  FetchOutcome,
  FetchTokenRequest,
  TokenSource,
} from '../token-source.js';
import { raceWithSignal, settleWithin } from '../../async/abort.js';
import {
  AuthorizationFlow,
  type BeginAuthorizationRequest,
  type CompleteAuthorizationRequest,
  type CompletedAuthorization,
} from './authorization-flow.js';
import { AuthorizationServers } from './authorization-servers.js';
import { CredentialStoreError, DiscoveryError } from './builtin-errors.js';
import { builtinStartPath, builtinStartUrl } from './builtin-urls.js';
import { CLIENT_GRANT_OWNER, type CredentialLock, type CredentialStore } from './credential-store.js';
import { LockTimeoutError, StoreError } from '../../store/store-errors.js';
import {
  applyTokenResponse,
  isUnexpired,
  markNeedsAuth,
  markRefreshSent,
  needsRenewal,
  sourceTokenOf,
} from './grant-rules.js';
import { LarkProtocol } from './lark-protocol.js';
import { OAuthRequestError, type OAuthFailure } from './map-oauth-error.js';
import {
  clientSettingsOf,
  type AuthorizationServerMetadata,
  type OAuthProtocol,
  type TokenResponse,
} from './oauth-protocol.js';
import { Oauth4webapiProtocol } from './oauth4webapi-protocol.js';
import { PendingAuthorizations, type PendingAuthorizationStore } from './pending-authorizations.js';
import { refusalOfRefresh } from './refresh-refusal.js';
import { storeRefreshAnswer } from './store-refresh-answer.js';
import type { StoredGrant } from './stored-grant.js';

export interface BuiltinSourceOptions {
  store: CredentialStore;
  /** The configured builtin providers, for the routes that name one. */
  providers: readonly BuiltinProviderConfig[];
  /** Where the daemon is reached: the start and callback routes hang off it. */
  publicUrl: string;
  /** Refresh an access token this long before it expires (config `refresh.margin`). */
  refreshMarginMs: number;
  /** A forced refresh is skipped for an access token younger than this. */
  forceMinAgeMs?: number;
  /**
   * How long `close` waits for token requests already sent (a refresh may rotate the refresh token,
   * which must then be stored). Default 20 s: the 15 s request timeout, and time to write.
   */
  closeGraceMs?: number;
  /**
   * How long a refresh another process sent (its "refresh sent" mark, with no answer stored yet) keeps
   * this one from sending the same refresh token. Default 30 s: the 15 s token request timeout, and
   * time to store the answer. Once it has run out the token is sent; a refusal then means the first
   * answer was lost (REFRESH_ANSWER_LOST).
   */
  refreshLeaseMs?: number;
  /** Standard OAuth 2.0 (oauth4webapi by default). */
  protocol?: OAuthProtocol;
  /** Providers in the `lark` dialect (Lark's v2 token endpoint by default). */
  larkProtocol?: OAuthProtocol;
  /** Where started sign-ins wait for their callback (in this process by default). */
  pending?: PendingAuthorizationStore;
  now?: () => number;
}

function asBuiltinProvider(provider: ProviderConfig): BuiltinProviderConfig {
  if (provider.source !== 'builtin')
    throw new Error(`provider "${provider.name}" is not served by the builtin source`);
  return provider;
}

const needsAuth = (code: string, reason: string): FetchOutcome => ({ status: 'needs_auth', code, reason });
const unavailable = (code: string, reason: string, retryAfterMs: number | null = null): FetchOutcome => ({
  status: 'unavailable',
  code,
  reason,
  retryAfterMs,
});

const grantKey = (owner: string, provider: string) => `${owner}\u0000${provider}`;

function expiredWithoutRefreshToken(provider: BuiltinProviderConfig): FetchOutcome {
  return needsAuth(
    'TOKEN_EXPIRED',
    provider.dialect === 'lark'
      ? `the ${provider.name} token expired and there is no refresh token to renew it (Lark takes each refresh token once, and the last answer gave no new one): authorize again`
      : `the ${provider.name} token expired and the provider gave no refresh token`,
  );
}

/**
 * False when the provider cannot have taken (and rotated) the refresh token: the request never left,
 * or the provider answered a 4xx that is not a refusal of the grant. Timeouts, resets and 5xx may
 * come after the provider took it; a 2xx we could not use (no access token, a truncated body) says
 * it did.
 */
function mayHaveSpentRefreshToken(failure: OAuthFailure): boolean {
  if (failure.notSent) return false;
  const { status } = failure;
  return status === null || (status >= 200 && status < 300) || status >= 500 || status === 408;
}

/**
 * The embedded OAuth 2.0 client: authorization code with PKCE, refresh, client credentials, OIDC
 * discovery, and credentials encrypted at rest. One refresh per grant at a time, in this process
 * (single flight) and across processes (a lock file per grant); a rotated refresh token is on disk
 * before the access token that came with it is handed out.
 */
export class BuiltinSource implements TokenSource {
  readonly kind = 'builtin' as const;
  readonly #store: CredentialStore;
  readonly #providers: Map<string, BuiltinProviderConfig>;
  #publicUrl: string;
  readonly #marginMs: number;
  readonly #forceMinAgeMs: number;
  readonly #protocol: OAuthProtocol;
  readonly #larkProtocol: OAuthProtocol;
  readonly #servers: AuthorizationServers;
  readonly #pending: PendingAuthorizationStore;
  readonly #flow: AuthorizationFlow;
  readonly #now: () => number;
  readonly #renewals = new SingleFlight<FetchOutcome>();
  /**
   * Work shared by several callers runs on this signal, not on the first caller's. Aborted as soon
   * as `close` is called: lock waits and discoveries stop, and no new token request is sent.
   */
  readonly #lifetime = new AbortController();
  /** Token requests already sent: aborted only once `close` has waited for them as long as it may. */
  readonly #sentRequests = new AbortController();
  readonly #closeGraceMs: number;
  readonly #refreshLeaseMs: number;
  /**
   * Refreshes this process sent whose requests have ended (grant key -> the mark's time): no answer
   * can come for those any more, so their mark holds no lease here.
   */
  readonly #endedRefreshes = new Map<string, number>();
  #closed: Promise<void> | null = null;

  constructor(options: BuiltinSourceOptions) {
    this.#store = options.store;
    this.#providers = new Map(options.providers.map((provider) => [provider.name, provider]));
    this.#publicUrl = options.publicUrl;
    this.#marginMs = options.refreshMarginMs;
    this.#forceMinAgeMs = options.forceMinAgeMs ?? 10_000;
    this.#closeGraceMs = options.closeGraceMs ?? 20_000;
    this.#refreshLeaseMs = options.refreshLeaseMs ?? 30_000;
    // Every lock wait, discovery and token request in flight listens to these.
    setMaxListeners(0, this.#lifetime.signal, this.#sentRequests.signal);
    this.#now = options.now ?? Date.now;
    this.#protocol = options.protocol ?? new Oauth4webapiProtocol({ now: this.#now });
    this.#larkProtocol =
      options.larkProtocol ?? new LarkProtocol({ standard: this.#protocol, now: this.#now });
    this.#servers = new AuthorizationServers({
      protocol: this.#protocol,
      lifetime: this.#lifetime.signal,
      now: this.#now,
    });
    this.#pending = options.pending ?? new PendingAuthorizations({ now: this.#now });
    this.#flow = new AuthorizationFlow({
      providerNamed: (name) => this.provider(name),
      publicUrl: () => this.#publicUrl,
      protocolFor: (provider) => this.#protocolFor(provider),
      servers: this.#servers,
      store: this.#store,
      pending: this.#pending,
      now: this.#now,
    });
  }
  /**
   * The address the daemon actually listens at, for redirect URIs and start links when the
   * configuration only derived one from its host and port (port 0 is known only once listening).
   */
  usePublicUrl(url: string): void {
    this.#publicUrl = url.replace(/\/+$/, '');
  }

  #protocolFor(provider: BuiltinProviderConfig): OAuthProtocol {
    return provider.dialect === 'lark' ? this.#larkProtocol : this.#protocol;
  }

  get store(): CredentialStore {
    return this.#store;
  }

  /** A configured builtin provider by name. */
  provider(name: string): BuiltinProviderConfig {
    const provider = this.#providers.get(name);
    if (!provider) throw new UnknownProviderError(name);
    return provider;
  }

  /** Step one of the authorization code flow, for `GET /auth/oauth/:provider/start`. */
  beginAuthorization(request: BeginAuthorizationRequest): Promise<{ redirectUrl: string }> {
    return this.#flow.begin(request);
  }

  /** Step two, for `GET /auth/oauth/:provider/callback`: the credentials are stored when it returns. */
  completeAuthorization(request: CompleteAuthorizationRequest): Promise<CompletedAuthorization> {
    return this.#flow.complete(request);
  }

  async fetchToken(request: FetchTokenRequest): Promise<FetchOutcome> {
    try {
      return await this.#fetchToken(request);
    } catch (error) {
      // The shared store is down: the token file in use stays, and the next try may find it back.
      if (error instanceof StoreError && error.code === 'STORE_UNAVAILABLE') {
        return unavailable('STORE_UNAVAILABLE', error.message, 1000);
      }
      throw error;
    }
  }

  async #fetchToken(request: FetchTokenRequest): Promise<FetchOutcome> {
    const provider = asBuiltinProvider(request.provider);
    const owner = provider.grant === 'client_credentials' ? CLIENT_GRANT_OWNER : request.owner;
    const grant = await this.#store.read(owner, provider.name);
    if (provider.grant === 'authorization_code') {
      if (!grant) return needsAuth('NOT_CONNECTED', `${owner} has not connected ${provider.name}`);
      if (grant.status === 'needs_auth') return this.#needsAuthOf(grant);
    }
    if (grant?.status === 'active' && !this.#shouldRenew(grant, request.mode === 'refresh')) {
      return { status: 'token', token: sourceTokenOf(grant) };
    }
    if (grant && provider.grant === 'authorization_code' && grant.refreshToken === null) {
      return isUnexpired(grant, this.#now())
        ? { status: 'token', token: sourceTokenOf(grant) }
        : expiredWithoutRefreshToken(provider);
    }
    const observed = grant?.generation ?? null;
    const renewal = this.#renewals.run(grantKey(owner, provider.name), () =>
      this.#store.withLock(owner, provider.name, this.#lifetime.signal, (lock) =>
        this.#renewHoldingLock(owner, provider, observed, lock),
      ),
    );
    try {
      return await raceWithSignal(renewal, request.signal);
    } catch (error) {
      if (error instanceof LockTimeoutError) {
        return unavailable('LOCK_TIMEOUT', `another process is still refreshing ${provider.name}`, 1000);
      }
      throw error;
    }
  }

  #shouldRenew(grant: StoredGrant, force: boolean): boolean {
    return needsRenewal(grant, {
      now: this.#now(),
      marginMs: this.#marginMs,
      force,
      forceMinAgeMs: this.#forceMinAgeMs,
    });
  }

  #needsAuthOf(grant: StoredGrant): FetchOutcome {
    return needsAuth(
      grant.needsAuth?.code ?? 'GRANT_REVOKED',
      grant.needsAuth?.reason ?? `${grant.provider} must be authorized again`,
    );
  }

  /**
   * Reads the grant again under its lock: when it changed since we looked (another process refreshed
   * it, or the owner authorized again), that result is ours and no request is made.
   */
  async #renewHoldingLock(
    owner: string,
    provider: BuiltinProviderConfig,
    observedGeneration: number | null,
    lock: CredentialLock,
  ): Promise<FetchOutcome> {
    const current = await lock.read();
    if (current && current.generation !== observedGeneration) {
      if (current.status === 'needs_auth') return this.#needsAuthOf(current);
      if (isUnexpired(current, this.#now())) return { status: 'token', token: sourceTokenOf(current) };
    }
    try {
      if (provider.grant === 'client_credentials') return await this.#fetchClientToken(provider, current);
      if (!current) return needsAuth('NOT_CONNECTED', `${owner} has not connected ${provider.name}`);
      if (current.status === 'needs_auth') return this.#needsAuthOf(current);
      if (current.refreshToken === null) return expiredWithoutRefreshToken(provider);
      return await this.#refresh(provider, current, current.refreshToken, lock);
    } catch (error) {
      // A fenced write found the grant changed since it was read here: another host holds it now.
      if (error instanceof StoreError && error.code === 'STORE_CONFLICT') {
        return unavailable(
          'GRANT_CHANGED',
          `the ${provider.name} grant changed on another host while this one renewed it; nothing was overwritten, and it is read again`,
          1000,
        );
      }
      throw error;
    }
  }

  /**
   * A refresh sent (by another process, or by this one whose request is still out) and not yet
   * answered in the store: its answer may still come, and sending the same refresh token again
   * would spend it twice. Waited for until the lease runs out.
   */
  #unexpiredLease(provider: BuiltinProviderConfig, current: StoredGrant): FetchOutcome | null {
    const sentAt = current.refreshSentAt;
    if (!sentAt) return null;
    if (this.#endedRefreshes.get(grantKey(current.owner, provider.name)) === sentAt.getTime()) return null;
    const left = sentAt.getTime() + this.#refreshLeaseMs - this.#now();
    if (left <= 0) return null;
    return unavailable(
      'REFRESH_IN_PROGRESS',
      `a refresh of ${provider.name} sent at ${sentAt.toISOString()} may still be answered (its lock was lost, or it is still under way): ` +
        `its refresh token is not sent again for another ${Math.ceil(left / 1000)} s`,
      Math.min(left, 2_000),
    );
  }

  /**
   * One refresh, holding the grant's lock. Before the refresh token is sent, the grant is written
   * with `refreshSentAt` (durable): should this process die before the answer is stored, the next one
   * knows that the token it finds may be spent and says so if the provider refuses it. That write also
   * leaves the folder in place, so storing the answer is one fsynced rename: the window in which a
   * kill loses a rotated refresh token is as short as the store can make it.
   */
  async #refresh(
    provider: BuiltinProviderConfig,
    current: StoredGrant,
    refreshToken: string,
    lock: CredentialLock,
  ): Promise<FetchOutcome> {
    let server;
    try {
      server = await this.#servers.forProvider(provider, this.#lifetime.signal);
    } catch (error) {
      return this.#outcomeOfFailure(error, provider, 'refresh');
    }
    const leased = this.#unexpiredLease(provider, current);
    if (leased) return leased;
    const unansweredSince = current.refreshSentAt ?? null;
    const signal = this.#requestSignal();
    const sent = markRefreshSent(current, new Date(this.#now()));
    await this.#store.write(sent, current.generation);
    const key = grantKey(current.owner, provider.name);
    try {
      return await this.#sendRefresh(provider, server, current, sent, refreshToken, unansweredSince, {
        signal,
        lock,
      });
    } finally {
      // Answered or not, this request is over: its mark holds no lease in this process.
      this.#endedRefreshes.set(key, sent.refreshSentAt!.getTime());
    }
  }

  async #sendRefresh(
    provider: BuiltinProviderConfig,
    server: AuthorizationServerMetadata,
    current: StoredGrant,
    sent: StoredGrant,
    refreshToken: string,
    unansweredSince: Date | null,
    { signal, lock }: { signal: AbortSignal; lock: CredentialLock },
  ): Promise<FetchOutcome> {
    let response: TokenResponse;
    try {
      response = await this.#protocolFor(provider).refresh(
        server,
        clientSettingsOf(provider),
        refreshToken,
        signal,
      );
    } catch (error) {
      if (error instanceof OAuthRequestError && error.failure.kind === 'invalid_grant') {
        const { code, reason } = refusalOfRefresh(provider.name, error.failure, unansweredSince);
        await this.#store.write(markNeedsAuth(sent, code, reason, new Date(this.#now())), sent.generation);
        return needsAuth(code, reason);
      }
      if (error instanceof OAuthRequestError && !mayHaveSpentRefreshToken(error.failure)) {
        // A definite refusal, or no connection at all: the token was not taken; drop the mark.
        await this.#store.write(
          { ...sent, generation: sent.generation + 1, refreshSentAt: current.refreshSentAt ?? null },
          sent.generation,
        );
      }
      return this.#outcomeOfFailure(error, provider, 'refresh');
    }
    // Durable before published: with rotation, the old refresh token is dead from this moment on.
    const next = applyTokenResponse({
      previous: sent,
      response,
      owner: current.owner,
      provider: provider.name,
      via: 'refreshed',
      dialect: provider.dialect ?? 'oauth2',
      now: new Date(this.#now()),
    });
    await storeRefreshAnswer(this.#store, next, sent.generation, signal, { lock });
    return { status: 'token', token: sourceTokenOf(next) };
  }

  async #fetchClientToken(
    provider: BuiltinProviderConfig,
    current: StoredGrant | null,
  ): Promise<FetchOutcome> {
    let response: TokenResponse;
    try {
      const server = await this.#servers.forProvider(provider, this.#lifetime.signal);
      response = await this.#protocolFor(provider).clientCredentials(
        server,
        clientSettingsOf(provider),
        provider.scopes,
        this.#requestSignal(),
      );
    } catch (error) {
      if (error instanceof OAuthRequestError && error.failure.kind === 'invalid_grant') {
        throw new TokenSourceConfigError(
          `${provider.name} refused the client credentials of "${provider.clientId}" (${error.failure.providerError ?? 'invalid_grant'})`,
          { cause: error },
        );
      }
      return this.#outcomeOfFailure(error, provider, 'client credentials');
    }
    const next = applyTokenResponse({
      previous: current,
      response,
      owner: CLIENT_GRANT_OWNER,
      provider: provider.name,
      via: 'client_credentials',
      dialect: provider.dialect ?? 'oauth2',
      now: new Date(this.#now()),
    });
    await this.#store.write(next, current?.generation ?? null);
    return { status: 'token', token: sourceTokenOf(next) };
  }

  /**
   * The signal for a token request about to be sent. None is sent once the source is closing; one
   * already sent is not cut short by `close` at once, since its answer may hold the only valid
   * refresh token (with rotation, the provider has invalidated the old one when it answers).
   */
  #requestSignal(): AbortSignal {
    this.#lifetime.signal.throwIfAborted();
    return this.#sentRequests.signal;
  }

  /** Transient trouble is "unavailable" (the current token stays in use); the rest is thrown. */
  #outcomeOfFailure(error: unknown, provider: BuiltinProviderConfig, what: string): FetchOutcome {
    if (error instanceof DiscoveryError) return unavailable('DISCOVERY_FAILED', error.message);
    if (!(error instanceof OAuthRequestError)) throw error;
    const { kind, status, retryAfterMs, providerError } = error.failure;
    const subject = `${what} request to ${provider.name}`;
    switch (kind) {
      case 'transient':
        return unavailable(
          status === 429 ? 'RATE_LIMITED' : 'PROVIDER_UNAVAILABLE',
          `the ${subject} failed: ${error.message}`,
          retryAfterMs,
        );
      case 'refused':
      case 'authorization_error':
        return unavailable('PROVIDER_REFUSED', `the ${subject} was refused: ${error.message}`, retryAfterMs);
      case 'configuration':
        throw new TokenSourceConfigError(
          `${provider.name} rejected client "${provider.clientId}" (${providerError ?? error.message}): check its clientId, clientSecret, scopes and URLs`,
          { cause: error },
        );
      default:
        throw new InvalidSourceResponseError(
          `the ${subject} got an answer we cannot trust: ${error.message}`,
          {
            cause: error,
          },
        );
    }
  }

  isConnectable(provider: ProviderConfig): boolean {
    return asBuiltinProvider(provider).grant === 'authorization_code';
  }

  authorizationUrl(request: AuthorizationRequest): Promise<string | null> {
    const provider = asBuiltinProvider(request.provider);
    if (provider.grant === 'client_credentials') return Promise.resolve(null);
    return Promise.resolve(builtinStartUrl(this.#publicUrl, provider.name, request.owner));
  }

  /** The page opens the same-origin start route in a popup; `token_synced` says when it is done. */
  startConnect(request: AuthorizationRequest): Promise<ConnectStart> {
    const provider = asBuiltinProvider(request.provider);
    if (provider.grant === 'client_credentials') {
      return Promise.reject(
        new NothingToAuthorizeError(
          `provider "${provider.name}" uses client credentials: there is nothing for an owner to authorize`,
        ),
      );
    }
    return Promise.resolve({
      flow: 'builtin',
      authorizationUrl: builtinStartPath(provider.name, request.owner),
    });
  }

  /** The callback stored the grant already; the sync that follows tells whether there is one. */
  confirmConnection(): Promise<void> {
    return Promise.resolve();
  }

  /** Revokes at the provider when it can (best effort: the grant is deleted here whatever it says). */
  async disconnect(request: AuthorizationRequest): Promise<void> {
    const provider = asBuiltinProvider(request.provider);
    // A client-credentials token belongs to no owner: nothing of one owner's to remove.
    if (provider.grant === 'client_credentials') return;
    await this.#store.withLock(request.owner, provider.name, request.signal, async (lock) => {
      let grant: StoredGrant | null = null;
      try {
        grant = await lock.read();
      } catch (error) {
        // An unreadable grant cannot be revoked, but the owner may still remove it.
        if (!(error instanceof CredentialStoreError)) throw error;
      }
      const token = grant?.refreshToken
        ? { value: grant.refreshToken, hint: 'refresh_token' as const }
        : grant?.accessToken
          ? { value: grant.accessToken, hint: 'access_token' as const }
          : null;
      if (token) {
        try {
          const server = await this.#servers.forProvider(provider, request.signal);
          await this.#protocolFor(provider).revoke(server, clientSettingsOf(provider), token, request.signal);
        } catch (error) {
          request.signal.throwIfAborted();
          // Best effort: a provider that cannot be reached must not keep the owner from disconnecting.
          if (!(error instanceof OAuthRequestError || error instanceof DiscoveryError)) throw error;
        }
      }
      await this.#store.delete(request.owner, provider.name);
    });
  }

  /**
   * Stops new work at once, waits (at most `closeGraceMs`) for token requests already sent and the
   * storing of their answers, then cuts short whatever is left.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const reason = new Error('the builtin token source is closed');
      this.#lifetime.abort(reason);
      await settleWithin(this.#renewals.idle(), this.#closeGraceMs);
      this.#sentRequests.abort(reason);
      await this.#renewals.idle();
      this.#servers.clear();
      this.#pending.clear();
    })();
    return this.#closed;
  }
}
