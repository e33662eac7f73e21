import type { BuiltinProviderConfig } from '../../config/types.js';
import { UsageError } from '../../errors.js';
import { validateOwnerId, validateProviderName } from '../../names.js';
import type { AuthorizationServers } from './authorization-servers.js';
import { CredentialStoreError, OAuthFlowError } from './builtin-errors.js';
import { builtinCallbackUrl } from './builtin-urls.js';
import type { CredentialLock, CredentialStore } from './credential-store.js';
import { applyTokenResponse } from './grant-rules.js';
import { OAuthRequestError } from './map-oauth-error.js';
import { clientSettingsOf, type OAuthProtocol, type TokenResponse } from './oauth-protocol.js';
import {
  isBrowserBinding,
  type ConsumeOutcome,
  type PendingAuthorizationStore,
} from './pending-authorizations.js';
import { SecretBoxOpenError } from './secret-box.js';
import type { StoredGrant } from './stored-grant.js';

export interface BeginAuthorizationRequest {
  owner: string;
  /** Provider name from the route. */
  provider: string;
  /** The random value the route keeps in this browser's cookie (see `newBrowserBinding`). */
  browserBinding: string;
  signal: AbortSignal;
}

export interface CompleteAuthorizationRequest {
  provider: string;
  /** The callback's query string, as the provider sent it. */
  query: URLSearchParams;
  /** The same browser's cookie value; null when the browser sent none. */
  browserBinding: string | null;
  signal: AbortSignal;
}

export interface CompletedAuthorization {
  owner: string;
  provider: string;
}

export interface AuthorizationFlowOptions {
  providerNamed: (name: string) => BuiltinProviderConfig;
  /** Read at each start: the daemon learns its address only once it listens (port 0). */
  publicUrl: () => string;
  /** The protocol of a provider's dialect (standard OAuth 2.0, or Lark's). */
  protocolFor: (provider: BuiltinProviderConfig) => OAuthProtocol;
  servers: AuthorizationServers;
  store: CredentialStore;
  pending: PendingAuthorizationStore;
  now: () => number;
}

/** Binds a sealed PKCE verifier to its sign-in: moved to another state, it does not open. */
const verifierSealedFor = (state: string) => `pkce/${state}`;

const STATE_PROBLEMS: Record<Exclude<ConsumeOutcome, { ok: true }>['reason'], string> = {
  unknown: 'is unknown or was already used',
  expired: 'has expired (it is good for 10 minutes)',
  wrong_provider: 'was started for another provider',
  wrong_browser: 'was started in another browser',
};

/** Authorization code with PKCE: the steps under `/auth/oauth/:provider/start` and `/callback`. */
export class AuthorizationFlow {
  readonly #options: AuthorizationFlowOptions;

  constructor(options: AuthorizationFlowOptions) {
    this.#options = options;
  }

  /**
   * Creates a one-time state and a PKCE verifier (sealed with the credential store's key before it is
   * kept, as grants are) and returns the provider's authorization URL.
   */
  async begin(request: BeginAuthorizationRequest): Promise<{ redirectUrl: string }> {
    const owner = validateOwnerId(request.owner);
    const provider = this.#authorizationCodeProvider(request.provider);
    if (!isBrowserBinding(request.browserBinding)) {
      throw new UsageError('a browser binding of 16 to 512 characters is required (see newBrowserBinding)');
    }
    const { servers, pending } = this.#options;
    const protocol = this.#options.protocolFor(provider);
    const server = await servers.forProvider(provider, request.signal);
    const state = protocol.createState();
    const pkce = provider.pkce ? await protocol.createPkce() : null;
    const redirectUri = builtinCallbackUrl(this.#options.publicUrl(), provider.name);
    const url = protocol.authorizationUrl(server, clientSettingsOf(provider), {
      redirectUri,
      state,
      codeChallenge: pkce?.challenge ?? null,
      scopes: provider.scopes,
      extra: provider.authorizationParams,
    });
    const codeVerifier =
      pkce === null ? null : (await this.#options.store.open()).seal(pkce.verifier, verifierSealedFor(state));
    await pending.add(
      { state, owner, provider: provider.name, codeVerifier, redirectUri },
      request.browserBinding,
    );
    return { redirectUrl: url.href };
  }

  /**
   * Checks the callback (state: known, unexpired, unused, same provider and browser; then `iss`), exchanges
   * the code with the verifier at the same redirect URI, and stores the credentials.
   */
  async complete(request: CompleteAuthorizationRequest): Promise<CompletedAuthorization> {
    const providerName = validateProviderName(request.provider);
    const state = request.query.get('state');
    const stateError = (problem: string, owner: string | null) =>
      new OAuthFlowError(
        'OAUTH_STATE_INVALID',
        `this authorization of ${providerName} ${problem}: start again`,
        {
          provider: providerName,
          providerError: null,
          owner,
        },
      );
    if (!state || state.length > 512) throw stateError('has no valid state', null);
    const consumed = await this.#options.pending.consume(state, providerName, request.browserBinding);
    if (!consumed.ok) throw stateError(STATE_PROBLEMS[consumed.reason], consumed.owner);
    const { owner, redirectUri } = consumed.pending;
    const codeVerifier = await this.#openVerifier(consumed.pending.codeVerifier, state, providerName, owner);

    const provider = this.#authorizationCodeProvider(providerName);
    const client = clientSettingsOf(provider);
    const server = await this.#options.servers.forProvider(provider, request.signal);
    const details = { provider: provider.name, owner };

    let callback: URLSearchParams;
    try {
      callback = this.#options.protocolFor(provider).validateCallback(server, client, request.query, state);
    } catch (error) {
      if (!(error instanceof OAuthRequestError)) throw error;
      const { kind, providerError } = error.failure;
      if (kind === 'authorization_error') {
        const denied = providerError === 'access_denied';
        throw new OAuthFlowError(
          denied ? 'OAUTH_ACCESS_DENIED' : 'OAUTH_AUTHORIZATION_FAILED',
          denied
            ? `access to ${provider.name} was denied (access_denied)`
            : `${provider.name} refused the authorization (${providerError ?? 'no error code'})`,
          { ...details, providerError },
          { cause: error },
        );
      }
      throw new OAuthFlowError(
        'OAUTH_EXCHANGE_FAILED',
        `the callback from ${provider.name} did not check out: ${error.message}`,
        { ...details, providerError },
        { cause: error },
      );
    }

    let response: TokenResponse;
    try {
      response = await this.#options.protocolFor(provider).exchangeCode(server, client, {
        callback,
        redirectUri,
        codeVerifier,
        signal: request.signal,
      });
    } catch (error) {
      if (!(error instanceof OAuthRequestError)) throw error;
      throw new OAuthFlowError(
        'OAUTH_EXCHANGE_FAILED',
        `cannot exchange the authorization code with ${provider.name}: ${error.message}`,
        { ...details, providerError: error.failure.providerError },
        { cause: error },
      );
    }

    const { store, now } = this.#options;
    await store.withLock(owner, provider.name, request.signal, async (lock) => {
      const previous = await previousGrant(lock);
      await store.write(
        applyTokenResponse({
          previous,
          response,
          owner,
          provider: provider.name,
          via: 'authorized',
          dialect: provider.dialect ?? 'oauth2',
          now: new Date(now()),
        }),
      );
    });
    return { owner, provider: provider.name };
  }

  async #openVerifier(
    sealed: string | null,
    state: string,
    provider: string,
    owner: string,
  ): Promise<string | null> {
    if (sealed === null) return null;
    const box = await this.#options.store.open();
    try {
      return box.open(sealed, verifierSealedFor(state));
    } catch (error) {
      if (!(error instanceof SecretBoxOpenError)) throw error;
      throw new OAuthFlowError(
        'OAUTH_STATE_INVALID',
        `this authorization of ${provider} was started on a host with another encryption key: give every host the same key, then start again`,
        { provider, providerError: null, owner },
        { cause: error },
      );
    }
  }

  #authorizationCodeProvider(name: string): BuiltinProviderConfig {
    const provider = this.#options.providerNamed(name);
    if (provider.grant !== 'authorization_code') {
      throw new UsageError(
        `provider "${provider.name}" uses the ${provider.grant} grant: there is no user authorization`,
      );
    }
    return provider;
  }
}

/**
 * The grant a new authorization replaces. A damaged one is replaced as if there were none: the owner
 * has just consented again.
 */
async function previousGrant(lock: CredentialLock): Promise<StoredGrant | null> {
  try {
    return await lock.read();
  } catch (error) {
    if (error instanceof CredentialStoreError && error.code === 'CREDENTIAL_STORE_UNREADABLE') return null;
    throw error;
  }
}
