import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { DEMO_PROVIDER, demoProviderEntries } from '../../src/demo/demo-providers.js';
import { builtinCallbackUrl } from '../../src/sources/builtin/builtin-urls.js';
import { CLI_ENTRY, TSX_LOADER } from './cli.js';
import type { DemoOAuthServer } from './oidc-server.js';
import { recordSecret } from './secret-scan.js';

/** A free port on loopback right now (a host's port must be known before it starts: redirect URIs name it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** What every host of one test shares: the database, the encryption key and the API token. */
export interface Cluster {
  databaseUrl: string;
  encryptionKey: string;
  apiToken: string;
}

export function newCluster(databaseUrl: string): Cluster {
  const cluster = {
    databaseUrl,
    encryptionKey: randomBytes(32).toString('base64'),
    apiToken: randomBytes(24).toString('base64url'),
  };
  recordSecret(cluster.encryptionKey);
  recordSecret(cluster.apiToken);
  return cluster;
}

export interface HostPlan {
  name: string;
  dir: string;
  port: number;
  url: string;
  callbackUrl: string;
}

/** Folders and ports for `count` hosts; their callback URLs go to the OAuth server before it starts. */
export async function planHosts(root: string, count: number): Promise<HostPlan[]> {
  const hosts: HostPlan[] = [];
  for (let index = 0; index < count; index++) {
    const name = String.fromCharCode(65 + index);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    hosts.push({
      name,
      dir: path.join(root, name),
      port,
      url,
      callbackUrl: builtinCallbackUrl(url, DEMO_PROVIDER),
    });
  }
  return hosts;
}

/** `nanoclaw serve` as a real process, on its own data folder and port, sharing PostgreSQL. */
export class HostProcess {
  #stdout = '';
  #stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly plan: HostPlan,
    readonly cluster: Cluster,
    readonly child: ChildProcessByStdio<null, Readable, Readable>,
  ) {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (this.#stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.#stderr += chunk));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  static async start(
    plan: HostPlan,
    cluster: Cluster,
    oauth: DemoOAuthServer,
    config: Record<string, unknown> = {},
  ): Promise<HostProcess> {
    await mkdir(path.join(plan.dir, 'skills'), { recursive: true });
    const configFile = path.join(plan.dir, 'nanoclaw.config.yaml');
    await writeFile(configFile, JSON.stringify({ providers: demoProviderEntries(oauth), ...config }));
    const child = spawn(
      process.execPath,
      [
        '--import',
        TSX_LOADER,
        CLI_ENTRY,
        'serve',
        '--host',
        '127.0.0.1',
        '--port',
        String(plan.port),
        '--json',
      ],
      {
        cwd: plan.dir,
        env: {
          PATH: process.env.PATH,
          NANOCLAW_CONFIG: configFile,
          NANOCLAW_DATA_DIR: path.join(plan.dir, 'data'),
          NANOCLAW_SKILLS_DIR: path.join(plan.dir, 'skills'),
          NANOCLAW_PUBLIC_URL: plan.url,
          NANOCLAW_DATABASE_URL: cluster.databaseUrl,
          NANOCLAW_ENCRYPTION_KEY: cluster.encryptionKey,
          NANOCLAW_API_TOKEN: cluster.apiToken,
          NANOCLAW_LOG_LEVEL: 'info',
          // No Docker here: the hosts serve tokens and launches, not containers.
          DOCKER_HOST: `unix://${path.join(plan.dir, 'no-docker.sock')}`,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const host = new HostProcess(plan, cluster, child);
    await host.#listening();
    return host;
  }

  async #listening(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#stdout.includes('\n')) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`host ${this.plan.name} exited before listening:\n${this.#stderr}`);
      }
      if (Date.now() > deadline) throw new Error(`host ${this.plan.name} did not listen:\n${this.#stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  get url(): string {
    return this.plan.url;
  }

  get stderr(): string {
    return this.#stderr;
  }

  get stdout(): string {
    return this.#stdout;
  }

  tokenFile(owner: string): string {
    return path.join(this.plan.dir, 'data', 'tokens', owner, `${DEMO_PROVIDER}.json`);
  }

  /** The access token in this host's file, or null when there is no file. */
  async accessToken(owner: string): Promise<string | null> {
    try {
      return (JSON.parse(await readFile(this.tokenFile(owner), 'utf8')) as { access_token: string })
        .access_token;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  api(pathname: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.url}${pathname}`, {
      ...init,
      headers: {
        authorization: `Bearer ${this.cluster.apiToken}`,
        ...(init.body ? { 'content-type': 'application/json' } : {}),
        ...(init.headers as Record<string, string> | undefined),
      },
    });
  }

  /** `POST /api/launches` for the demo provider. */
  async launch(owner: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await this.api('/api/launches', {
      method: 'POST',
      body: JSON.stringify({ owner, providers: [DEMO_PROVIDER] }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  /** `GET /auth/oauth/demo/start`: the provider's URL and the browser's binding cookie. */
  async startAuthorization(owner: string): Promise<{ location: string; cookie: string }> {
    const response = await this.api(`/auth/oauth/${DEMO_PROVIDER}/start?owner=${owner}`, {
      redirect: 'manual',
    });
    const location = response.headers.get('location');
    const cookie = response.headers
      .getSetCookie()
      .find((line) => line.startsWith('nanoclaw_oauth_binding='))
      ?.split(';')[0];
    if (response.status !== 302 || !location || !cookie) {
      throw new Error(
        `host ${this.plan.name}'s start route answered ${response.status}: ${await response.text()}`,
      );
    }
    return { location, cookie };
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  async stop(): Promise<void> {
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** An open `/api/events` stream of one host, collecting events by type. */
export class EventStreamReader {
  readonly events: Array<{
    id: string | null;
    type: string;
    data: Record<string, unknown>;
    receivedAt: number;
  }> = [];
  readonly #controller = new AbortController();
  readonly done: Promise<void>;

  private constructor(response: Response) {
    this.done = this.#read(response).catch(() => {});
  }

  /** With `lastEventId`, the host replays what came after it (the page's reconnect). */
  static async open(host: HostProcess, lastEventId?: string): Promise<EventStreamReader> {
    const controller = new AbortController();
    const response = await host.api('/api/events', {
      signal: controller.signal,
      ...(lastEventId ? { headers: { 'last-event-id': lastEventId } } : {}),
    });
    if (response.status !== 200) throw new Error(`events answered ${response.status}`);
    const reader = new EventStreamReader(response);
    reader.#controller.signal.addEventListener('abort', () => controller.abort());
    return reader;
  }

  async #read(response: Response): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const type = /^event: (.+)$/m.exec(block)?.[1];
        const data = /^data: (.+)$/m.exec(block)?.[1];
        const id = /^id: (.+)$/m.exec(block)?.[1] ?? null;
        if (type && data) this.events.push({ id, type, data: JSON.parse(data), receivedAt: Date.now() });
      }
    }
  }

  close(): void {
    this.#controller.abort();
  }
}
