import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRuntimeFromConfig, type Runtime } from '../../../src/app/runtime.js';
import { resolveConfig } from '../../../src/config/resolve-config.js';
import { Daemon, type DaemonOptions } from '../../../src/app/daemon.js';
import type { NanoclawEvent } from '../../../src/events/types.js';
import { createLogger } from '../../../src/log/logger.js';
import type { FakeNangoServer } from '../../support/fake-nango-server.js';

export const SIGNING_KEY = 'test-webhook-signing-key-5f1c2a9e';

export interface TestDaemonOptions {
  nango?: FakeNangoServer;
  /** Extra config file fields (providers, owners, ...). */
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  daemon?: Partial<Omit<DaemonOptions, 'runtime'>>;
}

/** A daemon on 127.0.0.1 with a random port, a temporary data folder and captured logs and events. */
export class TestDaemon {
  private constructor(
    readonly dir: string,
    readonly runtime: Runtime,
    readonly daemon: Daemon,
    /** Log lines, as written. */
    readonly logs: string[],
    /** Every event on the bus, in order. */
    readonly events: NanoclawEvent[],
  ) {}

  static async start(options: TestDaemonOptions = {}): Promise<TestDaemon> {
    const dir = await mkdtemp(path.join(tmpdir(), 'nanoclaw-web-'));
    const env: Record<string, string> = {
      NANOCLAW_DATA_DIR: path.join(dir, 'data'),
      NANOCLAW_SKILLS_DIR: path.join(dir, 'skills'),
      ...(options.nango
        ? {
            NANGO_SECRET_KEY: options.nango.secretKey,
            NANGO_HOST: options.nango.url,
            NANGO_WEBHOOK_SIGNING_KEY: SIGNING_KEY,
          }
        : {}),
      ...options.env,
    };
    const resolved = resolveConfig(
      {
        ...(options.nango ? { providers: [{ name: 'google-calendar', scopes: ['calendar.readonly'] }] } : {}),
        ...options.config,
      },
      { env, cwd: dir, configPath: null },
    );
    if ('errors' in resolved) throw new Error(resolved.errors.join('\n'));
    const logs: string[] = [];
    const logger = createLogger({
      level: 'debug',
      destination: { write: (line: string) => logs.push(line) },
    });
    const runtime = createRuntimeFromConfig(resolved.config, [], { logger });
    const events: NanoclawEvent[] = [];
    runtime.events.subscribe((event) => events.push(event));
    let daemon: Daemon;
    try {
      daemon = await Daemon.start({ runtime, host: '127.0.0.1', port: 0, ...options.daemon });
    } catch (error) {
      // A port taken under a test that chose it: the caller may try again, with nothing left open.
      await runtime.close();
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    return new TestDaemon(dir, runtime, daemon, logs, events);
  }

  get url(): string {
    return this.daemon.url;
  }

  get token(): string {
    return this.daemon.apiToken.token;
  }

  get origin(): string {
    return new URL(this.url).origin;
  }

  /** An API call with the Bearer token (unless `auth: false`) and a JSON body. */
  async api(
    method: string,
    pathname: string,
    options: { body?: unknown; auth?: boolean; headers?: Record<string, string> } = {},
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read JSON answers by shape
  ): Promise<{ status: number; body: any; headers: Headers; text: string }> {
    const response = await fetch(`${this.url}${pathname}`, {
      method,
      redirect: 'manual',
      headers: {
        ...(options.auth === false ? {} : { authorization: `Bearer ${this.token}` }),
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      ...(options.body !== undefined
        ? { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }
        : {}),
    });
    const text = await response.text();
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    return { status: response.status, body, headers: response.headers, text };
  }

  /** Posts a webhook body signed the way Nango signs it: HMAC-SHA256, hex, over the raw body. */
  webhook(rawBody: string, options: { key?: string | null; signature?: string } = {}) {
    const key = options.key === undefined ? SIGNING_KEY : options.key;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (options.signature !== undefined) headers['x-nango-hmac-sha256'] = options.signature;
    else if (key !== null) headers['x-nango-hmac-sha256'] = signNangoWebhook(rawBody, key);
    return this.api('POST', '/api/webhooks/nango', { auth: false, body: rawBody, headers });
  }

  /** Everything this daemon logged or emitted, as text, to look for secrets in. */
  get transcript(): string {
    return `${this.logs.join('\n')}\n${JSON.stringify(this.events)}`;
  }

  async close(): Promise<void> {
    await this.daemon.close();
    await this.runtime.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export function signNangoWebhook(rawBody: string, key: string): string {
  return createHmac('sha256', key).update(rawBody).digest('hex');
}

/** A request with headers fetch will not send as given (Host), over node:http. */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

/** Polls until `check` returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T> | T,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<Exclude<T, undefined | null | false>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false && value !== null)
      return value as Exclude<T, undefined | null | false>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
