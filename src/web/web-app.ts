import { loginLink } from './auth/login-link.js';
import type { NanoclawConfig } from '../config/types.js';
import type { EventBus } from '../events/event-bus.js';
import type { Logger } from '../log/logger.js';
import type { CreatedSources } from '../sources/create-sources.js';
import { AuthPrompter } from '../sandbox/auth-prompter.js';
import { LaunchPreparer } from '../sandbox/launch-preparer.js';
import type { TokenSync } from '../tokens/token-sync.js';
import { RequestGuard } from './auth/request-guard.js';
import { SessionStore, type PageSessions } from './auth/session-store.js';
import { ConnectionService } from './connections/connection-service.js';
import { PendingPrompts } from './events/pending-prompts.js';
import { EventLog } from './events/event-log.js';
import { EventStreamHub } from './events/event-stream-hub.js';
import { routeModules as defaultRouteModules } from './routes/index.js';
import { WebServer, type ListeningAddress } from './server/web-server.js';
import type { SkillRuns } from './skills/skill-runs.js';
import type { RefreshView, RouteModule, WebContext } from './web-context.js';

export interface WebAppOptions {
  config: NanoclawConfig;
  logger: Logger;
  events: EventBus;
  tokenSync: TokenSync;
  sources: CreatedSources;
  apiToken: string;
  host: string;
  port: number;
  /** The URL people reach the daemon at; null: the address it listens on. */
  publicUrl: string | null;
  skills?: SkillRuns | null;
  /** The launch path and prompts the runner uses too (made from the parts above when not given). */
  prompter?: AuthPrompter;
  launches?: LaunchPreparer;
  refreshState?: (owner: string, provider: string) => RefreshView | null;
  /** Routes beside the default ones (tests, plug-ins). */
  extraRoutes?: readonly RouteModule[];
  /** Replaces the default route modules entirely. */
  routes?: readonly RouteModule[];
  heartbeatMs?: number;
  /** Page sessions and login codes (in this process by default; shared by the hosts with PostgreSQL). */
  sessions?: PageSessions;
}

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/** `http://host:port` origins the page may be served from, lower-case. */
export function pageOrigins(address: ListeningAddress, publicUrl: string | null): string[] {
  const origins = new Set<string>([new URL(address.url).origin]);
  if (publicUrl) origins.add(new URL(publicUrl).origin);
  const host = address.host;
  if (host === '0.0.0.0' || host === '::' || host === '127.0.0.1' || host === '::1') {
    for (const name of LOOPBACK_NAMES) origins.add(`http://${name}:${address.port}`);
  }
  return [...origins].map((origin) => origin.toLowerCase());
}

/**
 * The daemon's web side: the server with every route, the event log and streams, the page's
 * sessions. One owner for all of it: `close()` ends streams and frees the port.
 */
export class WebApp {
  readonly server: WebServer;
  readonly context: WebContext;
  readonly #eventLog: EventLog;
  readonly #streams: EventStreamHub;
  readonly #pendingPrompts: PendingPrompts;
  #origins: string[] = [];
  #publicUrl: string;

  private constructor(options: WebAppOptions) {
    const sessions = options.sessions ?? new SessionStore();
    const guard = new RequestGuard({
      apiToken: options.apiToken,
      sessions,
      allowedOrigins: () => this.#origins,
    });
    this.#eventLog = new EventLog(options.events);
    this.#pendingPrompts = new PendingPrompts(options.events);
    this.#streams = new EventStreamHub(this.#eventLog, { heartbeatMs: options.heartbeatMs });
    this.#publicUrl = options.publicUrl ?? '';
    const publicUrl = options.publicUrl;
    this.server = new WebServer({
      host: options.host,
      port: options.port,
      guard,
      logger: options.logger,
      secureCookies: publicUrl !== null && new URL(publicUrl).protocol === 'https:',
    });
    const prompter =
      options.prompter ??
      new AuthPrompter({
        tokenSync: options.tokenSync,
        sources: options.sources.registry,
        events: options.events,
        logger: options.logger,
      });
    this.context = {
      config: options.config,
      logger: options.logger,
      events: options.events,
      tokenSync: options.tokenSync,
      sources: options.sources,
      connections: new ConnectionService({
        tokenSync: options.tokenSync,
        sources: options.sources.registry,
        webhookReceiver: (kind) => options.sources.registry.webhookReceiver(kind),
        logger: options.logger,
      }),
      eventLog: this.#eventLog,
      streams: this.#streams,
      pendingPrompts: this.#pendingPrompts,
      sessions,
      guard,
      launches:
        options.launches ??
        new LaunchPreparer({ tokenSync: options.tokenSync, prompter, logger: options.logger }),
      prompter,
      skills: options.skills ?? null,
      refreshState: options.refreshState ?? (() => null),
      publicUrl: () => this.#publicUrl,
    };
    const modules = [...(options.routes ?? defaultRouteModules), ...(options.extraRoutes ?? [])];
    for (const module of modules) this.server.addRoutes(module(this.context));
  }

  /** Builds the app and starts listening. */
  static async start(options: WebAppOptions): Promise<WebApp> {
    const app = new WebApp(options);
    try {
      const address = await app.server.listen();
      app.#origins = pageOrigins(address, options.publicUrl);
      app.#publicUrl = (options.publicUrl ?? address.url).replace(/\/+$/, '');
    } catch (error) {
      await app.close();
      throw error;
    }
    return app;
  }

  get url(): string {
    return this.#publicUrl;
  }

  /** A link that logs a browser in once: `<url>/?token=<one-time code>`. */
  createLoginLink(next?: string): string {
    return loginLink(this.#publicUrl, this.context.sessions.createLoginCode(), next);
  }

  async close(): Promise<void> {
    this.#streams.close();
    await this.server.close();
    this.#eventLog.dispose();
    this.#pendingPrompts.dispose();
  }
}
