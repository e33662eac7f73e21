import { loadConfig } from '../config/load-config.js';
import type { Environment } from '../config/resolve-config.js';
import type { NanoclawConfig } from '../config/types.js';
import type { EventSubscriptions } from '../events/event-bus.js';
import type { Logger } from '../log/logger.js';
import { validateOwnerId, validateSkillName } from '../names.js';
import type { AuthRequest } from '../sandbox/auth-required-parser.js';
import { AuthPrompter } from '../sandbox/auth-prompter.js';
import type { OutputStream } from '../sandbox/container-runtime.js';
import type { LaunchRequest, PreparedLaunch } from '../sandbox/launch.js';
import { LaunchPreparer } from '../sandbox/launch-preparer.js';
import type { CreatedSources } from '../sources/create-sources.js';
import type { SyncResult } from '../tokens/sync-result.js';
import type { TokenStatus } from '../tokens/token-sync.js';
import { createRuntimeFromConfig, type Runtime } from './runtime.js';

export interface NanoclawOptions {
  /** A YAML config file; else NANOCLAW_CONFIG, else ./nanoclaw.config.yaml when it exists. */
  configPath?: string;
  /** The configuration as an object of the config file's shape; no file is read then. */
  config?: unknown;
  /** Where `${VAR}` and NANOCLAW_* come from (default: process.env). */
  env?: Environment;
  /** Relative paths are resolved against it (default: process.cwd()). */
  cwd?: string;
  /** A pino logger (default: JSON on stderr at the configured level). */
  logger?: Logger;
  /** Replaces the token sources built from the configuration (tests, embedding). */
  sources?: CreatedSources;
}

export interface WatchOutputOptions {
  owner: string;
  /** The providers the container was launched with: only these may prompt. */
  providers: readonly string[];
  /** Names the container in events (default null). */
  skill?: string;
  /** Cancels the source requests that make the prompts' links. */
  signal?: AbortSignal;
}

/** A container's output, handed in as it arrives. */
export interface OutputWatcher {
  /** Any chunking; a string is taken as UTF-8. Only stdout can prompt. */
  write(chunk: Uint8Array | string, stream?: OutputStream): void;
  /** The output is over: a last line without a newline still counts. */
  end(): void;
  /** Prompts seen so far, once per provider. */
  readonly prompts: readonly AuthRequest[];
  /** Resolves once every prompt seen so far has gone out as an `auth_required` event. */
  settled(): Promise<void>;
}

/** nanoclaw as a library, for agent hosts that launch their own containers. */
export interface Nanoclaw extends AsyncDisposable {
  readonly config: NanoclawConfig;
  /** Typed events, the same as the daemon's SSE stream; never a token. */
  readonly events: EventSubscriptions;
  /** Syncs the providers for the owner and says how to mount their tokens into a container. */
  prepareLaunch(request: LaunchRequest): Promise<PreparedLaunch>;
  /** Turns a container's AUTH_REQUIRED lines into `auth_required` events. */
  watchOutput(options: WatchOutputOptions): OutputWatcher;
  /** Syncs an owner's providers now (all configured ones when none are named). */
  sync(
    owner: string,
    providers?: readonly string[],
    options?: { force?: boolean; signal?: AbortSignal },
  ): Promise<SyncResult[]>;
  /** What the token files say, per configured provider; no source is asked. */
  status(owner: string): Promise<TokenStatus[]>;
  /** Ends source requests in flight and lets their file writes finish. Idempotent. */
  close(): Promise<void>;
}

/** Loads and validates the configuration, and builds nanoclaw for a host's launch point. */
export async function createNanoclaw(options: NanoclawOptions = {}): Promise<Nanoclaw> {
  const { config, warnings } = await loadConfig({
    ...(options.configPath !== undefined ? { configPath: options.configPath } : {}),
    ...(options.config !== undefined ? { value: options.config } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  const runtime = createRuntimeFromConfig(config, warnings, {
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.sources ? { sources: options.sources } : {}),
  });
  for (const warning of warnings) runtime.logger.warn({ code: 'CONFIG_WARNING' }, warning);
  // With a shared store, prompts raised here reach the pages of the daemons on other hosts.
  if (runtime.store) await runtime.store.shareEvents(runtime.events);
  return nanoclawFromRuntime(runtime);
}

/** The library face over a runtime the caller built (the CLI and `serve` share theirs). */
export function nanoclawFromRuntime(runtime: Runtime): Nanoclaw {
  const { tokenSync, events, logger } = runtime;
  const prompter = new AuthPrompter({ tokenSync, sources: runtime.tokenSources, events, logger });
  const launches = new LaunchPreparer({ tokenSync, prompter, logger });
  let closed: Promise<void> | null = null;
  const close = () => (closed ??= runtime.close());
  return {
    config: runtime.config,
    events,
    prepareLaunch: (request) => launches.prepare(request),
    watchOutput: (options) => {
      const { owner, providers } = launches.validate(options);
      return prompter.watch({
        owner,
        skill: options.skill === undefined ? null : validateSkillName(options.skill),
        runId: null,
        declared: providers,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    },
    sync: async (owner, providers, syncOptions = {}) => {
      const validOwner = validateOwnerId(owner);
      const names = providers ? launches.validate({ owner, providers }).providers : tokenSync.providers;
      return tokenSync.syncMany(
        names.map((provider) => ({ owner: validOwner, provider: provider.name })),
        syncOptions,
      );
    },
    status: (owner) => tokenSync.status(validateOwnerId(owner)),
    close,
    [Symbol.asyncDispose]: close,
  };
}
