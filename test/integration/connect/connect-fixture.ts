import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as connectTcp } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { runCli } from '../../../src/cli/run-cli.js';
import { createLogger } from '../../../src/log/logger.js';
import { recordDataDirSecrets } from '../../support/data-dir-secrets.js';
import { authorizeHeadless, CookieJar } from '../../support/oidc-server.js';
import { TSX_LOADER } from '../../support/cli.js';

const CLI_ENTRY = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));

/** A temporary folder with a nanoclaw.config.yaml, and the environment that points the CLI at it. */
export interface Project extends AsyncDisposable {
  dir: string;
  dataDir: string;
  env: Record<string, string>;
  tokenPath(owner: string, provider: string): string;
}

export async function createProject(
  config: Record<string, unknown>,
  env: Record<string, string> = {},
): Promise<Project> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-connect-'));
  // JSON is YAML.
  await writeFile(path.join(dir, 'nanoclaw.config.yaml'), JSON.stringify(config, null, 2));
  const dataDir = path.join(dir, 'data');
  return {
    dir,
    dataDir,
    env: { NANOCLAW_DATA_DIR: dataDir, NANOCLAW_SKILLS_DIR: path.join(dir, 'skills'), ...env },
    tokenPath: (owner, provider) => path.join(dataDir, 'tokens', owner, `${provider}.json`),
    [Symbol.asyncDispose]: async () => {
      // The CLI processes wrote these where the scan's hooks cannot see: it checks their output for them.
      await recordDataDirSecrets(dataDir);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Output that arrives a line at a time, read as it comes. */
class LineReader {
  text = '';
  #waiters: Array<() => void> = [];
  #read = 0;

  push(chunk: string): void {
    this.text += chunk;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** The next whole line not read yet. */
  async nextLine(timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = this.text.indexOf('\n', this.#read);
      if (end >= 0) {
        const line = this.text.slice(this.#read, end);
        this.#read = end + 1;
        return line;
      }
      if (Date.now() > deadline) throw new Error(`no line within ${timeoutMs} ms; so far: ${this.text}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/** A CLI run in progress: its output as it arrives, and how it ended. */
export interface RunningCli {
  stdout: LineReader;
  stderr: LineReader;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  interrupt(): void;
}

/** `nanoclaw <args>` as a real process (only PATH is inherited), killed if it outlives the test. */
export function spawnConnect(args: readonly string[], project: Project, timeoutMs = 25_000): RunningCli {
  const child: ChildProcessByStdio<null, Readable, Readable> = spawn(
    process.execPath,
    ['--import', TSX_LOADER, CLI_ENTRY, ...args],
    { cwd: project.dir, env: { PATH: process.env.PATH, ...project.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stdout = new LineReader();
  const stderr = new LineReader();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => stdout.push(chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    }),
  );
  return { stdout, stderr, exited, interrupt: () => child.kill('SIGINT') };
}

class LineSink extends Writable {
  constructor(private readonly reader: LineReader) {
    super();
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.reader.push(chunk.toString());
    callback();
  }
}

/** The same command in this process, with output readable while it runs (for a daemon in this process). */
export function runConnectInProcess(
  args: readonly string[],
  project: Project,
  signal: AbortSignal,
): RunningCli {
  const stdout = new LineReader();
  const stderr = new LineReader();
  const stderrSink = new LineSink(stderr);
  const exited = runCli(
    args,
    { stdout: new LineSink(stdout), stderr: stderrSink, env: project.env, cwd: project.dir, signal },
    { logger: createLogger({ level: 'warn', destination: stderrSink }) },
  ).then((code) => ({ code, signal: null }));
  return { stdout, stderr, exited, interrupt: () => {} };
}

/**
 * Opens a login link like a browser: follows nanoclaw's redirects (login, then the authorization
 * start) with one cookie jar, presses Allow on the demo server's consent page, and visits the
 * callback. Returns the callback page.
 */
export async function approveInBrowser(
  loginUrl: string,
  callbackUrl: string,
  answer: 'allow' | 'deny' = 'allow',
): Promise<{ status: number; html: string }> {
  const jar = new CookieJar();
  const nanoclaw = new URL(loginUrl).origin;
  let url = loginUrl;
  for (let step = 0; step < 4; step++) {
    const response = await fetch(url, {
      redirect: 'manual',
      // The link is opened by hand and its redirects stay on nanoclaw's origin, as a browser says.
      headers: { cookie: jar.header(), 'sec-fetch-site': 'none', 'sec-fetch-mode': 'navigate' },
      signal: AbortSignal.timeout(10_000),
    });
    jar.store(response);
    await response.arrayBuffer();
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) {
      throw new Error(`expected a redirect from ${new URL(url).pathname}, got HTTP ${response.status}`);
    }
    const target = new URL(location, url);
    if (target.origin !== nanoclaw) {
      const callback = await authorizeHeadless(target.href, { answer, callbackUrl, jar });
      const done = await fetch(callback, {
        redirect: 'manual',
        headers: { cookie: jar.header() },
        signal: AbortSignal.timeout(10_000),
      });
      return { status: done.status, html: await done.text() };
    }
    url = target.href;
  }
  throw new Error('too many redirects before the provider');
}

/** Resolves when nothing accepts connections on the port any more. */
export async function expectNothingListening(port: number): Promise<void> {
  const refused = await new Promise<boolean>((resolve) => {
    const socket = connectTcp({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
  expect(refused, `something still listens on port ${port}`).toBe(true);
}

/** None of the secrets may appear in the text. */
export function expectNoSecrets(text: string, secrets: readonly (string | null | undefined)[]): void {
  for (const secret of secrets) {
    if (secret) expect(text.includes(secret), 'a secret was printed').toBe(false);
  }
}
