import type { NanoclawConfig } from '../config/types.js';
import { ConnectionRegistry } from './nango/connection-registry.js';
import { SdkNangoApi } from './nango/nango-api.js';
import { NangoSource } from './nango/nango-source.js';
import { TokenSourceRegistry, type TokenSource } from './token-source.js';

export interface CreatedSources {
  registry: TokenSourceRegistry;
  nango: NangoSource | null;
}

/** Builds the token sources the configuration asks for. */
export function createSources(config: NanoclawConfig): CreatedSources {
  const byKind: { nango?: TokenSource } = {};
  let nango: NangoSource | null = null;
  if (config.nango) {
    nango = new NangoSource({
      api: new SdkNangoApi(config.nango),
      registry: ConnectionRegistry.inDataDir(config.dataDir),
    });
    byKind.nango = nango;
  }
  return { registry: new TokenSourceRegistry(byKind), nango };
}
