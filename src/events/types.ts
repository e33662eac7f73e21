/**
 * Events carry who and what, never a token: they go to the page, to `--json` output and to logs.
 */
interface EventBase {
  /** ISO 8601 time the event happened. */
  at: string;
}

export interface AuthRequiredEvent extends EventBase {
  type: 'auth_required';
  owner: string;
  provider: string;
  scopes: string[];
  skill: string | null;
  runId: string | null;
  /** Where the user authorizes; null when the source could not make one. */
  connectUrl: string | null;
}

export interface TokenSyncedEvent extends EventBase {
  type: 'token_synced';
  owner: string;
  provider: string;
  expiresAt: string | null;
}

export interface TokenNeedsAuthEvent extends EventBase {
  type: 'token_needs_auth';
  owner: string;
  provider: string;
  reason: string;
}

export interface SkillStartedEvent extends EventBase {
  type: 'skill_started';
  owner: string;
  skill: string;
  runId: string;
}

export interface SkillOutputEvent extends EventBase {
  type: 'skill_output';
  owner: string;
  skill: string;
  runId: string;
  stream: 'stdout' | 'stderr';
  line: string;
  /** The line was longer than 64 KiB: `line` holds its start and the rest was dropped. */
  truncated?: boolean;
}

export interface SkillExitedEvent extends EventBase {
  type: 'skill_exited';
  owner: string;
  skill: string;
  runId: string;
  exitCode: number;
  reason: 'exited' | 'timeout' | 'aborted' | 'auth_required' | 'failed';
}

/** Something went wrong in the background (a watcher saw an invalid manifest, a refresh failed). */
export interface ErrorEvent extends EventBase {
  type: 'error';
  code: string;
  message: string;
  owner?: string;
  provider?: string;
  skill?: string;
}

export type NanoclawEvent =
  | AuthRequiredEvent
  | TokenSyncedEvent
  | TokenNeedsAuthEvent
  | SkillStartedEvent
  | SkillOutputEvent
  | SkillExitedEvent
  | ErrorEvent;

/** An event as it is passed to `emit`: the bus stamps the time when it is not given. */
export type NewEvent = NanoclawEvent extends infer E
  ? E extends NanoclawEvent
    ? Omit<E, 'at'> & { at?: string }
    : never
  : never;
