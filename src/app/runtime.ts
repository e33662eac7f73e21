import { loadConfig, type LoadConfigOptions } from '../config/load-config.js';
import type { NanoclawConfig } from '../config/types.js';
import { describeError } from '../errors.js';
import { EventBus } from '../events/event-bus.js';
import { createLazyLogger } from '../log/lazy-logger.js';
import type { Logger } from '../log/logger.js';
import { createSources, type CreatedSources } from '../sources/create-sources.js';
import type { TokenSources } from '../sources/token-source.js';
import { PostgresStore } from '../store/postgres/postgres-store.js';
import { TokenFolder } from '../tokens/token-folder.js';
import { TokenSync } from '../tokens/token-sync.js';
import { SourcesOnFirstUse } from './sources-on-first-use.js';

/** The skill image's user and group; token files are group-readable for it when we run as root. */
export const SKILL_USER_GID = 10001;

/** Everything a command needs, built once from the validated configuration. */
export interface Runtime {
  config: NanoclawConfig;
  warnings: string[];
  logger: Logger;
  events: EventBus;
  /** The token sources, built the first time this is read (a `status` never reads it). */
  readonly sources: CreatedSources;
  /** The sources by provider, built the first time one is picked: for what may never ask one. */
  tokenSources: TokenSources;
  folder: TokenFolder;
  tokenSync: TokenSync;
  /** The PostgreSQL store the hosts share (`store.url`); null: this host's data folder. */
  store: PostgresStore | null;
  close(): Promise<void>;
}

export interface RuntimeOptions extends LoadConfigOptions {
  logger?: Logger;
  /** Replaces the built sources (tests, the demo). */
  sources?: CreatedSources;
}

/** Group for token folders: configured, else the skill user's group when we can chown (root). */
export function tokenGroupFor(config: NanoclawConfig): number | null {
  if (config.sandbox.tokenGroup !== null) return config.sandbox.tokenGroup;
  return process.getuid?.() === 0 ? SKILL_USER_GID : null;
}

export async function createRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const { config, warnings } = await loadConfig(options);
  return createRuntimeFromConfig(config, warnings, options);
}

export function createRuntimeFromConfig(
  config: NanoclawConfig,
  warnings: string[],
  options: Pick<RuntimeOptions, 'logger' | 'sources'> = {},
): Runtime {
  const logger = options.logger ?? createLazyLogger({ level: config.logLevel });
  const events = new EventBus((error) => logger.error({ err: String(error) }, 'event listener failed'));
  const store = openSharedStore(config, logger);
  // Sources handed in are built already, and the runtime's to close like its own.
  const sources = options.sources
    ? SourcesOnFirstUse.alreadyBuilt(options.sources)
    : new SourcesOnFirstUse(() =>
        createSources(
          config,
          store ? { grants: store.grants, pending: store.pending, connections: store.connections } : {},
        ),
      );
  const folder = new TokenFolder(config.tokensDir, { group: tokenGroupFor(config) });
  const tokenSync = new TokenSync({ config, folder, sources, events, logger });
  return {
    config,
    warnings,
    logger,
    events,
    get sources() {
      return sources.created;
    },
    tokenSources: sources,
    folder,
    tokenSync,
    store,
    close: async () => {
      // Syncs first: their requests end before the sources they use are closed, and those before
      // the store they write to. Sources nothing asked for were never built, and are not now.
      await tokenSync.close();
      await sources.close();
      await store?.close();
    },
  };
}

/**
 * PostgreSQL when the configuration names one: it connects on first use (and again after an outage),
 * so building the runtime never waits for it. Its trouble is logged without the password.
 */
function openSharedStore(config: NanoclawConfig, logger: Logger): PostgresStore | null {
  if (config.store.url === null) return null;
  return new PostgresStore({
    url: config.store.url,
    onError: (error) => logger.warn(describeError(error), 'shared store trouble'),
  });
}
