import type {
  BuiltinProviderConfig,
  NanoclawConfig,
  NangoProviderConfig,
  NangoSettings,
} from '../config/types.js';
import { BuiltinSource } from './builtin/builtin-source.js';
import { CredentialStore } from './builtin/credential-store.js';
import { ConnectionRegistry } from './nango/connection-registry.js';
import { SdkNangoApi } from './nango/nango-api.js';
import { NangoSource } from './nango/nango-source.js';
import type { ConnectionMap } from '../store/connection-map.js';
import type { GrantRecordStore } from '../store/grant-records.js';
import type { PendingAuthorizationStore } from '../store/pending-authorizations.js';
import { TokenSourceRegistry, type TokenSource } from './token-source.js';

/** State the hosts share (PostgreSQL); each part left out stays in this host's data folder. */
export interface SharedState {
  grants?: GrantRecordStore;
  pending?: PendingAuthorizationStore;
  connections?: ConnectionMap;
}

export interface CreatedSources {
  registry: TokenSourceRegistry;
  nango: NangoSource | null;
  /** The embedded OAuth client, when a provider uses it; its flow functions back the /auth/oauth routes. */
  builtin?: BuiltinSource | null;
}

/** Builds the token sources the configuration asks for. */
export function createSources(config: NanoclawConfig, shared: SharedState = {}): CreatedSources {
  const byKind: { nango?: TokenSource; builtin?: TokenSource } = {};
  let nango: NangoSource | null = null;
  if (config.nango) {
    nango = new NangoSource({
      api: new SdkNangoApi(config.nango),
      registry: shared.connections ?? ConnectionRegistry.inDataDir(config.dataDir),
      providers: config.providers.filter(
        (provider): provider is NangoProviderConfig => provider.source === 'nango',
      ),
      linkApiUrl: linkApiUrlOf(config.nango),
    });
    byKind.nango = nango;
  }
  const builtinProviders = config.providers.filter(
    (provider): provider is BuiltinProviderConfig => provider.source === 'builtin',
  );
  let builtin: BuiltinSource | null = null;
  if (builtinProviders.length > 0) {
    builtin = new BuiltinSource({
      store: CredentialStore.inDataDir(config.dataDir, config.builtin.encryptionKey, shared.grants),
      ...(shared.pending ? { pending: shared.pending } : {}),
      providers: builtinProviders,
      publicUrl: config.server.publicUrl,
      refreshMarginMs: config.refresh.marginMs,
      ...(config.builtin.refreshLeaseMs !== undefined
        ? { refreshLeaseMs: config.builtin.refreshLeaseMs }
        : {}),
    });
    byKind.builtin = builtin;
  }
  return { registry: new TokenSourceRegistry(byKind), nango, builtin };
}

/** Nango Cloud's API; its Connect UI calls it unless a link says otherwise. */
const NANGO_CLOUD_HOSTS = new Set(['api.nango.dev']);

/**
 * The `apiURL` a connect link for a person needs: Nango's API as browsers reach it, for a
 * self-hosted Nango; none for Nango Cloud, whose Connect UI finds its API by itself.
 */
export function linkApiUrlOf(nango: Pick<NangoSettings, 'host' | 'connectApiUrl'>): string | null {
  if (nango.connectApiUrl !== null) return nango.connectApiUrl;
  let hostname: string;
  try {
    hostname = new URL(nango.host).hostname;
  } catch {
    return null;
  }
  return NANGO_CLOUD_HOSTS.has(hostname) ? null : nango.host;
}
