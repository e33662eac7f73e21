import { describeError } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { AuthRequiredEvent } from '../events/types.js';
import type { Logger } from '../log/logger.js';
import type { TokenSources } from '../sources/token-source.js';
import type { TokenSync } from '../tokens/token-sync.js';
import type { OutputStream } from './container-runtime.js';
import type { SplitLine } from './line-splitter.js';
import { OutputWatch } from './output-watch.js';

/** How long a token source may take to make a connect URL before a prompt goes out without one. */
export const DEFAULT_CONNECT_URL_TIMEOUT_MS = 10_000;

export interface AuthPromptRequest {
  owner: string;
  provider: string;
  scopes: readonly string[];
  skill: string | null;
  runId: string | null;
  signal?: AbortSignal;
}

export interface WatchRequest {
  owner: string;
  skill: string | null;
  runId: string | null;
  /** The providers the launch declares, with the scopes to ask for when a line names none. */
  declared: readonly { name: string; scopes: readonly string[] }[];
  /** Cancels the source requests that make the prompts' links. */
  signal?: AbortSignal;
  /** Every line that is not a prompt. */
  onLine?: (stream: OutputStream, line: SplitLine) => void;
}

export interface AuthPrompterOptions {
  tokenSync: TokenSync;
  sources: TokenSources;
  events: EventBus;
  logger: Logger;
  connectUrlTimeoutMs?: number;
}

/**
 * Turns "this owner must authorize this provider" into an `auth_required` event with the token
 * source's link: for a skill's AUTH_REQUIRED line, a host's relayed output, or an HTTP prompt.
 */
export class AuthPrompter {
  readonly #options: AuthPrompterOptions;

  constructor(options: AuthPrompterOptions) {
    this.#options = options;
  }

  /**
   * Watches a container's output: each AUTH_REQUIRED line of a declared provider becomes one
   * `auth_required` event with the source's link. Our own runs and a host's containers (the
   * library's `watchOutput`, `nanoclaw relay`) share it.
   */
  watch(request: WatchRequest): OutputWatch {
    return new OutputWatch({
      declared: new Map(request.declared.map((provider) => [provider.name, provider.scopes])),
      onPrompt: async (prompt) => {
        await this.announce({
          owner: request.owner,
          provider: prompt.provider,
          scopes: prompt.scopes,
          skill: request.skill,
          runId: request.runId,
          ...(request.signal ? { signal: request.signal } : {}),
        });
      },
      ...(request.onLine ? { onLine: request.onLine } : {}),
    });
  }

  /** Emits the prompt once the source has made its link (or could not); never throws. */
  async announce(request: AuthPromptRequest): Promise<AuthRequiredEvent> {
    const connectUrl = await this.connectUrl(request.owner, request.provider, request.signal);
    return this.#options.events.emit({
      type: 'auth_required',
      owner: request.owner,
      provider: request.provider,
      scopes: [...request.scopes],
      skill: request.skill,
      runId: request.runId,
      connectUrl,
    }) as AuthRequiredEvent;
  }

  /** The token source's link for the owner to authorize, or null when it cannot make one now. */
  async connectUrl(owner: string, providerName: string, signal?: AbortSignal): Promise<string | null> {
    const { sources, tokenSync, logger } = this.#options;
    const timeout = AbortSignal.timeout(this.#options.connectUrlTimeoutMs ?? DEFAULT_CONNECT_URL_TIMEOUT_MS);
    try {
      const provider = tokenSync.provider(providerName);
      return await sources.sourceFor(provider).authorizationUrl({
        owner,
        provider,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      logger.warn(
        { owner, provider: providerName, ...describeError(error) },
        'no connect URL for the prompt',
      );
      return null;
    }
  }
}
