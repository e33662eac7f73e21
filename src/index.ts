/**
 * nanoclaw as a library: keep an owner's OAuth tokens fresh for the containers a host launches
 * itself, and turn their AUTH_REQUIRED lines into prompts. See docs/integrating.md.
 */
export {
  createNanoclaw,
  type Nanoclaw,
  type NanoclawOptions,
  type OutputWatcher,
  type WatchOutputOptions,
} from './app/nanoclaw.js';
export type {
  LaunchEnv,
  LaunchMount,
  LaunchNeedsAuth,
  LaunchRequest,
  LaunchToken,
  PreparedLaunch,
} from './sandbox/launch.js';
export { CONTAINER_TOKENS_DIR } from './sandbox/launch.js';
export {
  AUTH_REQUIRED_PREFIX,
  parseAuthRequiredLine,
  type AuthRequest,
} from './sandbox/auth-required-parser.js';
export type { EventOf, EventSubscriptions, EventType } from './events/event-bus.js';
export type {
  AuthRequiredEvent,
  ErrorEvent,
  NanoclawEvent,
  SkillExitedEvent,
  SkillOutputEvent,
  SkillStartedEvent,
  TokenNeedsAuthEvent,
  TokenSyncedEvent,
} from './events/types.js';
export type { SyncResult, SyncState } from './tokens/sync-result.js';
export type { TokenStatus } from './tokens/token-sync.js';
export type { TokenFile } from './tokens/token-file.js';
export type { NanoclawConfig } from './config/types.js';
export { ConfigError, InvalidNameError, NanoclawError, UnknownProviderError, UsageError } from './errors.js';
export { OWNER_ID_PATTERN, PROVIDER_NAME_PATTERN, validateOwnerId, validateProviderName } from './names.js';
