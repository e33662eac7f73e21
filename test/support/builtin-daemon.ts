import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRuntimeFromConfig, type Runtime } from '../../src/app/runtime.js';
import { resolveConfig } from '../../src/config/resolve-config.js';
import type { BuiltinProviderConfig } from '../../src/config/types.js';
import { Daemon } from '../../src/app/daemon.js';
import { DEMO_PROVIDER, demoProviderEntries } from '../../src/demo/demo-providers.js';
import type { NanoclawEvent } from '../../src/events/types.js';
import { createLogger } from '../../src/log/logger.js';
import { BuiltinSource } from '../../src/sources/builtin/builtin-source.js';
import { builtinCallbackUrl } from '../../src/sources/builtin/builtin-urls.js';
import { CredentialStore } from '../../src/sources/builtin/credential-store.js';
import type { CreatedSources } from '../../src/sources/create-sources.js';
import { TokenSourceRegistry } from '../../src/sources/token-source.js';
import { authorizeHeadless, startTestOidcServer, type DemoOAuthServer } from './oidc-server.js';
import { withChosenPort } from './port-retry.js';

export interface BuiltinDaemonOptions {
  /** The built-in source's clock (state expiry, token times); the real one by default. */
  now?: () => number;
  /** Lifetime of the access tokens the demo server issues. */
  accessTokenTtlSeconds?: number;
  /** More config file fields (refresh, ...). */
  config?: Record<string, unknown>;
}

/**
 * A real daemon (`nanoclaw serve` in-process, refresher included) on loopback whose `demo` provider
 * is the built-in OAuth client against a real oidc-provider (the demo server). The built-in source is
 * built here, as `createSources` builds it, so a test can hand it a clock.
 */
export class BuiltinDaemon {
  /** Every event on the bus, in order. */
  readonly events: NanoclawEvent[] = [];

  private constructor(
    /** Log lines, as written. */
    readonly logs: string[],
    readonly dir: string,
    readonly oauth: DemoOAuthServer,
    readonly runtime: Runtime,
    readonly daemon: Daemon,
    readonly source: BuiltinSource,
    readonly callbackUrl: string,
  ) {
    runtime.events.subscribe((event) => this.events.push(event));
  }

  /** The redirect URI names the daemon's port, so the demo server must know it before the daemon listens. */
  static start(options: BuiltinDaemonOptions = {}): Promise<BuiltinDaemon> {
    return withChosenPort((port) => BuiltinDaemon.#startOn(port, options));
  }

  static async #startOn(port: number, options: BuiltinDaemonOptions): Promise<BuiltinDaemon> {
    const publicUrl = `http://127.0.0.1:${port}`;
    const callbackUrl = builtinCallbackUrl(publicUrl, DEMO_PROVIDER);
    const oauth = await startTestOidcServer({
      redirectUris: [callbackUrl],
      ...(options.accessTokenTtlSeconds ? { accessTokenTtlSeconds: options.accessTokenTtlSeconds } : {}),
    });
    const dir = await mkdtemp(path.join(tmpdir(), 'nanoclaw-builtin-daemon-'));
    let runtime: Runtime | null = null;
    try {
      const resolved = resolveConfig(
        { providers: demoProviderEntries(oauth), ...options.config },
        {
          env: {
            NANOCLAW_DATA_DIR: path.join(dir, 'data'),
            NANOCLAW_SKILLS_DIR: path.join(dir, 'skills'),
            NANOCLAW_PUBLIC_URL: publicUrl,
          },
          cwd: dir,
          configPath: null,
        },
      );
      if ('errors' in resolved) throw new Error(resolved.errors.join('\n'));
      const { config } = resolved;
      const source = new BuiltinSource({
        store: CredentialStore.inDataDir(config.dataDir, config.builtin.encryptionKey),
        providers: config.providers.filter(
          (provider): provider is BuiltinProviderConfig => provider.source === 'builtin',
        ),
        publicUrl: config.server.publicUrl,
        refreshMarginMs: config.refresh.marginMs,
        ...(options.now ? { now: options.now } : {}),
      });
      const sources: CreatedSources = {
        registry: new TokenSourceRegistry({ builtin: source }),
        nango: null,
        builtin: source,
      };
      const logs: string[] = [];
      const logger = createLogger({ level: 'debug', destination: { write: (line) => logs.push(line) } });
      runtime = createRuntimeFromConfig(config, [], { logger, sources });
      const daemon = await Daemon.start({ runtime, host: '127.0.0.1', port, watch: false });
      return new BuiltinDaemon(logs, dir, oauth, runtime, daemon, source, callbackUrl);
    } catch (error) {
      await runtime?.close();
      await oauth.close();
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  get url(): string {
    return this.daemon.url;
  }

  /** Where the daemon writes `owner`'s demo token. */
  tokenFile(owner: string): string {
    return path.join(this.runtime.config.tokensDir, owner, `${DEMO_PROVIDER}.json`);
  }

  /** `GET /auth/oauth/demo/start` as the page's popup opens it: the provider's URL and the binding cookie. */
  async startAuthorization(owner: string): Promise<{ location: string; cookie: string }> {
    const response = await fetch(`${this.url}/auth/oauth/${DEMO_PROVIDER}/start?owner=${owner}`, {
      redirect: 'manual',
      headers: { authorization: `Bearer ${this.daemon.apiToken.token}` },
    });
    const location = response.headers.get('location');
    const cookie = response.headers
      .getSetCookie()
      .find((line) => line.startsWith('nanoclaw_oauth_binding='))
      ?.split(';')[0];
    if (response.status !== 302 || !location || !cookie) {
      throw new Error(`the start route answered ${response.status}: ${await response.text()}`);
    }
    return { location, cookie };
  }

  /** The demo user presses Allow; returns the callback URL (with code and state), not yet visited. */
  consent(location: string): Promise<URL> {
    return authorizeHeadless(location, { answer: 'allow', callbackUrl: this.callbackUrl });
  }

  /** Start, consent and callback, headless: the whole connect of `owner`; returns the callback's answer. */
  async connect(owner: string): Promise<Response> {
    const { location, cookie } = await this.startAuthorization(owner);
    const callback = await this.consent(location);
    return fetch(callback, { headers: { cookie } });
  }

  /** Everything this daemon logged or emitted, as text, to look for secrets in. */
  get transcript(): string {
    return `${this.logs.join('\n')}\n${JSON.stringify(this.events)}`;
  }

  async close(): Promise<void> {
    await this.daemon.close();
    await this.runtime.close();
    await this.oauth.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}
