import type { NanoclawConfig } from '../config/types.js';
import type { EventBus } from '../events/event-bus.js';
import type { Logger } from '../log/logger.js';
import type { CreatedSources } from '../sources/create-sources.js';
import type { AuthPrompter } from '../sandbox/auth-prompter.js';
import type { LaunchPreparer } from '../sandbox/launch-preparer.js';
import type { TokenSync } from '../tokens/token-sync.js';
import type { RequestGuard } from './auth/request-guard.js';
import type { PageSessions } from './auth/session-store.js';
import type { ConnectionService } from './connections/connection-service.js';
import type { EventLog } from './events/event-log.js';
import type { EventStreamHub } from './events/event-stream-hub.js';
import type { PendingPrompts } from './events/pending-prompts.js';
import type { AnyRoute } from './server/route.js';
import type { SkillRuns } from './skills/skill-runs.js';

/** How the daemon's refresher sees one token, for the status page. */
export interface RefreshView {
  nextRefreshAt: string | null;
  running: boolean;
  failures: number;
  lastError: { code: string; message: string } | null;
}

/** Everything route modules may use. */
export interface WebContext {
  config: NanoclawConfig;
  logger: Logger;
  events: EventBus;
  tokenSync: TokenSync;
  sources: CreatedSources;
  connections: ConnectionService;
  eventLog: EventLog;
  streams: EventStreamHub;
  /** Prompts not answered yet, for a page opened after a skill asked. */
  pendingPrompts: PendingPrompts;
  sessions: PageSessions;
  guard: RequestGuard;
  /** The one launch path, for hosts that run their own containers. */
  launches: LaunchPreparer;
  /** Announces authorization prompts (`auth_required`) with the source's link. */
  prompter: AuthPrompter;
  /** Skills and runs; null when the sandbox is not available. */
  skills: SkillRuns | null;
  /** The refresher's view of a token, when a refresher runs. */
  refreshState: (owner: string, provider: string) => RefreshView | null;
  /** The URL people reach the daemon at (known once it listens). */
  publicUrl: () => string;
}

/**
 * A set of routes that plugs into the server: each concern's file exports one. Add new ones (the
 * built-in OAuth routes, say) to `routeModules` in routes/index.ts, or pass them to `startDaemon`.
 */
export type RouteModule = (context: WebContext) => AnyRoute[];
