import type { SyncState } from '../tokens/sync-result.js';
import { TOKENS_MOUNT } from './container-spec.js';

/** Where a container finds its owner's tokens. */
export const CONTAINER_TOKENS_DIR = TOKENS_MOUNT;

/** The read-only directory mount that gives a container its tokens. */
export interface LaunchMount {
  /** A folder on this host; bind it as a directory (never single files), so refreshes show inside. */
  hostPath: string;
  containerPath: typeof CONTAINER_TOKENS_DIR;
  readOnly: true;
}

/** Environment a container is given so skills find their tokens. */
export interface LaunchEnv {
  NANOCLAW_OWNER: string;
  NANOCLAW_TOKENS_DIR: typeof CONTAINER_TOKENS_DIR;
  [name: string]: string;
}

/** One declared provider's token as the launch found it; never the token itself. */
export interface LaunchToken {
  provider: string;
  state: SyncState;
  /** An unexpired token file is in the mount. */
  usable: boolean;
  expiresAt: string | null;
}

/** A declared provider with no usable token: where the owner authorizes it. */
export interface LaunchNeedsAuth {
  provider: string;
  scopes: string[];
  /** Null when the token source cannot make a link now. */
  connectUrl: string | null;
}

/** What `prepareLaunch` answers: add `mount` and `env` to the container, show `needsAuth` to the owner. */
export interface PreparedLaunch {
  owner: string;
  providers: string[];
  mount: LaunchMount;
  env: LaunchEnv;
  tokens: LaunchToken[];
  needsAuth: LaunchNeedsAuth[];
}

export interface LaunchRequest {
  owner: string;
  /** Providers the container may use; each must be configured. */
  providers: readonly string[];
  /** Cancels the wait for the token sources; files already written stay. */
  signal?: AbortSignal;
}
