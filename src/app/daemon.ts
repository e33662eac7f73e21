import { mkdir } from 'node:fs/promises';
import type { NanoclawConfig } from '../config/types.js';
import { describeError } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { Logger } from '../log/logger.js';
import type { SkillCatalog } from '../sandbox/skill-catalog.js';
import type { CreatedSources } from '../sources/create-sources.js';
import { TOKEN_DIR_MODE } from '../tokens/token-folder.js';
import type { TokenSync } from '../tokens/token-sync.js';
import { loadOrCreateApiToken, type ApiToken } from '../web/auth/api-token.js';
import { SkillRuns, type SkillRunnerPort } from '../web/skills/skill-runs.js';
import type { RouteModule } from '../web/web-context.js';
import { WebApp } from '../web/web-app.js';
import type { Clock } from '../daemon/clock.js';
import { Refresher } from '../daemon/refresher.js';
import { SkillWatcher } from '../daemon/skill-watcher.js';
import { TokenWatcher } from '../daemon/token-watcher.js';
import type { PostgresStore } from '../store/postgres/postgres-store.js';

/** What the daemon is built from (the CLI's runtime has all of it). */
export interface DaemonRuntime {
  config: NanoclawConfig;
  logger: Logger;
  events: EventBus;
  sources: CreatedSources;
  tokenSync: TokenSync;
  /** The store the hosts share, when there is one: events go between them through it. */
  store?: PostgresStore | null;
}

export interface DaemonOptions {
  runtime: DaemonRuntime;
  /** Override config.server.host / port (`--host`, `--port`). */
  host?: string;
  port?: number;
  /** Skills that can run from the page; null: no sandbox. */
  skills?: { catalog: SkillCatalog; runner: SkillRunnerPort } | null;
  /** More routes (plug-ins). */
  extraRoutes?: readonly RouteModule[];
  /** Watch the skills and token folders (default true). */
  watch?: boolean;
  clock?: Clock;
  heartbeatMs?: number;
}

/** The public URL unless it is only the default made from the configured host and port. */
export function explicitPublicUrl(config: NanoclawConfig): string | null {
  const { host, port, publicUrl } = config.server;
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const defaultUrl = `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
  return publicUrl === defaultUrl ? null : publicUrl;
}

/**
 * `nanoclaw serve` as one object: the web app, the refresher and the watchers, started in order and
 * closed in reverse. `close` stops accepting, ends event streams, stops the containers it started,
 * lets token writes in flight finish, and leaves no timer, watcher or socket behind.
 */
export class Daemon {
  readonly #closers: Array<{ name: string; close: () => Promise<void> }> = [];
  #web: WebApp | null = null;
  #refresher: Refresher | null = null;
  #apiToken: ApiToken | null = null;
  #closed: Promise<void> | null = null;

  private constructor(private readonly logger: Logger) {}

  static async start(options: DaemonOptions): Promise<Daemon> {
    const { runtime } = options;
    const daemon = new Daemon(runtime.logger);
    try {
      await daemon.#start(options);
    } catch (error) {
      await daemon.close();
      throw error;
    }
    return daemon;
  }

  /** The URL the page is at. */
  get url(): string {
    return this.#web!.url;
  }

  get apiToken(): ApiToken {
    return this.#apiToken!;
  }

  get refresher(): Refresher {
    return this.#refresher!;
  }

  get web(): WebApp {
    return this.#web!;
  }

  /** A one-time login link for the page; with `next`, the browser goes on to that path once logged in. */
  createLoginLink(next?: string): string {
    return this.#web!.createLoginLink(next);
  }

  async #start(options: DaemonOptions): Promise<void> {
    const { config, events, logger, sources, tokenSync } = options.runtime;
    const store = options.runtime.store ?? null;
    this.#apiToken = await loadOrCreateApiToken(config.dataDir, config.server.apiToken);
    if (store) await this.#joinSharedStore(store, events, logger);
    await mkdir(config.tokensDir, { recursive: true, mode: TOKEN_DIR_MODE });

    const refresher = new Refresher({
      tokens: tokenSync,
      store: tokenSync.folder,
      events,
      logger,
      settings: config.refresh,
      ...(options.clock ? { clock: options.clock } : {}),
    });
    this.#refresher = refresher;
    this.#closers.push({ name: 'refresher', close: () => refresher.stop() });

    const skills = options.skills
      ? new SkillRuns({ runner: options.skills.runner, catalog: options.skills.catalog, events, logger })
      : null;
    if (skills) this.#closers.push({ name: 'skill runs', close: () => skills.stopAll() });

    const web = await WebApp.start({
      config,
      logger,
      events,
      tokenSync,
      sources,
      apiToken: this.#apiToken.token,
      host: options.host ?? config.server.host,
      port: options.port ?? config.server.port,
      publicUrl: explicitPublicUrl(config),
      skills,
      refreshState: (owner, provider) => refresher.describe(owner, provider),
      ...(options.extraRoutes ? { extraRoutes: options.extraRoutes } : {}),
      ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}),
      ...(store ? { sessions: store.sessions } : {}),
    });
    this.#web = web;
    this.#closers.push({ name: 'web server', close: () => web.close() });
    // Redirect URIs follow the address actually bound, unless the configuration names one.
    if (explicitPublicUrl(config) === null) sources.builtin?.usePublicUrl(web.url);

    await refresher.start();

    if (options.watch ?? true) {
      const tokenWatcher = await TokenWatcher.start({
        root: config.tokensDir,
        providers: tokenSync.providers,
        read: (owner, provider) => tokenSync.folder.read(owner, provider),
        sync: (owner, provider, syncOptions) => tokenSync.sync(owner, provider, syncOptions),
        onPresent: (owner, provider) => refresher.reschedule(owner, provider),
        events,
        logger,
      });
      this.#closers.push({ name: 'token watcher', close: () => tokenWatcher.close() });
      if (options.skills) {
        const skillWatcher = await SkillWatcher.start({
          skillsDir: config.skillsDir,
          catalog: options.skills.catalog,
          events,
          logger,
        });
        if (skillWatcher) this.#closers.push({ name: 'skill watcher', close: () => skillWatcher.close() });
      }
    }
  }

  /**
   * Applies the shared schema and starts carrying events between the hosts. PostgreSQL out of reach
   * does not stop the daemon: token files in place keep serving launches, and the store and the
   * event channel connect by themselves once it is back.
   */
  async #joinSharedStore(store: PostgresStore, events: EventBus, logger: Logger): Promise<void> {
    try {
      await store.ready();
      logger.info({ store: store.where }, 'using the shared store');
    } catch (error) {
      // A schema newer than this version knows is no outage: refuse to run against it.
      if ((error as { code?: string }).code === 'STORE_SCHEMA_NEWER') throw error;
      logger.error(describeError(error), 'the shared store cannot be reached; going on, and trying again');
    }
    const channel = await store.shareEvents(events);
    this.#closers.push({ name: 'shared events', close: () => channel.close() });
  }

  /** Shuts everything down, each part once, all parts even when one fails. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      // Runs, the server and the refresher stop together: each waits for its own work in flight.
      const results = await Promise.allSettled(this.#closers.map((closer) => closer.close()));
      results.forEach((result, index) => {
        if (result.status === 'rejected') {
          this.logger.error(
            { part: this.#closers[index]!.name, ...describeError(result.reason) },
            'shutdown step failed',
          );
        }
      });
    })();
    return this.#closed;
  }
}
