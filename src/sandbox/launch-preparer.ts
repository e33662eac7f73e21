import type { ProviderConfig } from '../config/types.js';
import { UsageError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { validateOwnerId, validateProviderName } from '../names.js';
import type { SyncResult } from '../tokens/sync-result.js';
import type { TokenSync } from '../tokens/token-sync.js';
import type { AuthPrompter } from './auth-prompter.js';
import {
  CONTAINER_TOKENS_DIR,
  type LaunchNeedsAuth,
  type LaunchRequest,
  type LaunchToken,
  type PreparedLaunch,
} from './launch.js';

/** More would be no skill's declaration but a mistake or an attack on the sources. */
export const MAX_LAUNCH_PROVIDERS = 64;

export interface LaunchPreparerOptions {
  tokenSync: TokenSync;
  prompter: AuthPrompter;
  logger: Logger;
}

/**
 * The one launch path, for our own runner and for hosts that run their own containers: syncs the
 * declared providers for the owner (fresh files cost no source request), gives the read-only token
 * mount and the environment, and says which providers need the owner to authorize, with a link.
 * A source that fails never blocks a launch: the container starts with what is on disk.
 */
export class LaunchPreparer {
  readonly #options: LaunchPreparerOptions;

  constructor(options: LaunchPreparerOptions) {
    this.#options = options;
  }

  /** Validates the owner and the providers (configured, each once); throws before any I/O. */
  validate(request: Pick<LaunchRequest, 'owner' | 'providers'>): {
    owner: string;
    providers: ProviderConfig[];
  } {
    const owner = validateOwnerId(request.owner);
    if (!Array.isArray(request.providers)) throw new UsageError('providers must be a list of provider names');
    if (request.providers.length > MAX_LAUNCH_PROVIDERS) {
      throw new UsageError(`a launch may declare at most ${MAX_LAUNCH_PROVIDERS} providers`);
    }
    const names = [...new Set(request.providers.map((name) => validateProviderName(name)))];
    return { owner, providers: names.map((name) => this.#options.tokenSync.provider(name)) };
  }

  async prepare(request: LaunchRequest): Promise<PreparedLaunch> {
    const { owner, providers } = this.validate(request);
    const { tokenSync } = this.#options;
    const signal = request.signal;
    const results = await this.#sync(owner, providers, signal);
    signal?.throwIfAborted();
    // Only the declared providers' files, kept live as they are refreshed or removed.
    const hostPath = await tokenSync.folder.ensureView(
      owner,
      providers.map((provider) => provider.name),
    );
    const tokens: LaunchToken[] = results.map((result) => ({
      provider: result.provider,
      state: result.state,
      usable: result.usable,
      expiresAt: result.expiresAt,
    }));
    const needsAuth = await Promise.all(
      providers
        .filter((_, index) => needsAuthorization(results[index]!))
        .map(async (provider): Promise<LaunchNeedsAuth> => ({
          provider: provider.name,
          scopes: [...provider.scopes],
          connectUrl: await this.#options.prompter.connectUrl(owner, provider.name, signal),
        })),
    );
    return {
      owner,
      providers: providers.map((provider) => provider.name),
      mount: { hostPath, containerPath: CONTAINER_TOKENS_DIR, readOnly: true },
      env: { NANOCLAW_OWNER: owner, NANOCLAW_TOKENS_DIR: CONTAINER_TOKENS_DIR },
      tokens,
      needsAuth,
    };
  }

  async #sync(
    owner: string,
    providers: readonly ProviderConfig[],
    signal?: AbortSignal,
  ): Promise<SyncResult[]> {
    const { tokenSync, logger } = this.#options;
    const results = await tokenSync.syncMany(
      providers.map((provider) => ({ owner, provider: provider.name })),
      signal ? { signal } : {},
    );
    for (const result of results.filter((each) => !each.usable)) {
      logger.info(
        { owner, provider: result.provider, state: result.state, code: result.code },
        'no usable token before launch; the skill may ask for authorization',
      );
    }
    return results;
  }
}

/** The owner must act: the source said so, and no unexpired token is on disk. */
function needsAuthorization(result: SyncResult): boolean {
  return !result.usable && result.state === 'needs-auth';
}
