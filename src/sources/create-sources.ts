import type { BuiltinProviderConfig, NanoclawConfig } from '../config/types.js';
import { BuiltinSource } from './builtin/builtin-source.js';
import { CredentialStore } from './builtin/credential-store.js';
import { ConnectionRegistry } from './nango/connection-registry.js';
import { SdkNangoApi } from './nango/nango-api.js';
import { NangoSource } from './nango/nango-source.js';
import { TokenSourceRegistry, type TokenSource } from './token-source.js';

export interface CreatedSources {
  registry: TokenSourceRegistry;
  nango: NangoSource | null;
  /** The embedded OAuth client, when a provider uses it; its flow functions back the /auth/oauth routes. */
  builtin?: BuiltinSource | null;
}

/** Builds the token sources the configuration asks for. */
export function createSources(config: NanoclawConfig): CreatedSources {
  const byKind: { nango?: TokenSource; builtin?: TokenSource } = {};
  let nango: NangoSource | null = null;
  if (config.nango) {
    nango = new NangoSource({
      api: new SdkNangoApi(config.nango),
      registry: ConnectionRegistry.inDataDir(config.dataDir),
    });
    byKind.nango = nango;
  }
  const builtinProviders = config.providers.filter(
    (provider): provider is BuiltinProviderConfig => provider.source === 'builtin',
  );
  let builtin: BuiltinSource | null = null;
  if (builtinProviders.length > 0) {
    builtin = new BuiltinSource({
      store: CredentialStore.inDataDir(config.dataDir, config.builtin.encryptionKey),
      providers: builtinProviders,
      publicUrl: config.server.publicUrl,
      refreshMarginMs: config.refresh.marginMs,
    });
    byKind.builtin = builtin;
  }
  return { registry: new TokenSourceRegistry(byKind), nango, builtin };
}
