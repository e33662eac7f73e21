import type { BuiltinProviderConfig } from '../../config/types.js';
import { raceWithSignal } from '../../async/abort.js';
import type { AuthorizationServerMetadata, OAuthProtocol } from './oauth-protocol.js';

/** Configured URLs win over discovered ones; without an issuer the configured URLs are the server. */
export function applyConfiguredEndpoints(
  discovered: AuthorizationServerMetadata | null,
  provider: Pick<BuiltinProviderConfig, 'authorizationUrl' | 'tokenUrl' | 'revocationUrl'>,
): AuthorizationServerMetadata {
  if (discovered) {
    return {
      ...discovered,
      authorizationEndpoint: provider.authorizationUrl ?? discovered.authorizationEndpoint,
      tokenEndpoint: provider.tokenUrl ?? discovered.tokenEndpoint,
      revocationEndpoint: provider.revocationUrl ?? discovered.revocationEndpoint,
    };
  }
  const anchor = provider.authorizationUrl ?? provider.tokenUrl;
  if (!anchor) throw new Error('a provider without an issuer needs a tokenUrl or an authorizationUrl');
  return {
    issuer: new URL(anchor).origin,
    authorizationEndpoint: provider.authorizationUrl,
    tokenEndpoint: provider.tokenUrl,
    revocationEndpoint: provider.revocationUrl,
    issParameterSupported: false,
    document: {},
  };
}

export interface AuthorizationServersOptions {
  protocol: OAuthProtocol;
  /** Aborts discoveries in flight when the source closes. */
  lifetime: AbortSignal;
  /** How long discovered metadata is reused. */
  ttlMs?: number;
  now?: () => number;
}

/**
 * The authorization server of each provider. Discovery runs once per issuer however many callers ask,
 * and its result is reused for a while; a failed discovery is not kept, so the next call tries again.
 */
export class AuthorizationServers {
  readonly #protocol: OAuthProtocol;
  readonly #lifetime: AbortSignal;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #discovered = new Map<string, { at: number; metadata: Promise<AuthorizationServerMetadata> }>();

  constructor(options: AuthorizationServersOptions) {
    this.#protocol = options.protocol;
    this.#lifetime = options.lifetime;
    this.#ttlMs = options.ttlMs ?? 60 * 60_000;
    this.#now = options.now ?? Date.now;
  }

  /** Throws `DiscoveryError` when the issuer's metadata cannot be had. */
  async forProvider(
    provider: BuiltinProviderConfig,
    signal: AbortSignal,
  ): Promise<AuthorizationServerMetadata> {
    const discovered = provider.issuer ? await raceWithSignal(this.#discover(provider.issuer), signal) : null;
    return applyConfiguredEndpoints(discovered, provider);
  }

  #discover(issuer: string): Promise<AuthorizationServerMetadata> {
    const cached = this.#discovered.get(issuer);
    if (cached && this.#now() - cached.at < this.#ttlMs) return cached.metadata;
    const metadata = this.#protocol.discover(issuer, this.#lifetime);
    const entry = { at: this.#now(), metadata };
    this.#discovered.set(issuer, entry);
    metadata.catch(() => {
      if (this.#discovered.get(issuer) === entry) this.#discovered.delete(issuer);
    });
    return metadata;
  }

  clear(): void {
    this.#discovered.clear();
  }
}
