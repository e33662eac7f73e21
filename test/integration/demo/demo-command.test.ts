import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cliNodeArgs } from '../../support/cli.js';
import {
  containersWithLabel,
  dockerForTests,
  TEST_BASE_IMAGE,
  type DockerForTests,
} from '../../support/docker.js';
import { recordDataDirSecrets } from '../../support/data-dir-secrets.js';
import { authorizeHeadless, CookieJar } from '../../support/oidc-server.js';

type DemoLine = Record<string, unknown> & { type: string };

/** How long a test waits for a line the demo should print: a hang fails with what came so far. */
const LINE_DEADLINE_MS = 45_000;

/** `nanoclaw demo --json` as a real process (the built CLI), its stdout read line by line as it comes. */
function startDemo(cwd: string, args: string[]) {
  const child: ChildProcessByStdio<null, Readable, Readable> = spawn(
    process.execPath,
    [...cliNodeArgs(), 'demo', '--json', ...args],
    {
      cwd,
      env: {
        PATH: process.env.PATH,
        NANOCLAW_BASE_IMAGE: TEST_BASE_IMAGE,
        NANOCLAW_SANDBOX_NETWORK: 'none',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: DemoLine[] = [];
  /** stdout lines that were not JSON objects: with --json there must be none. */
  const notJson: string[] = [];
  const waiters = new Set<{ match: (line: DemoLine) => boolean; resolve: (line: DemoLine) => void }>();
  let stderr = '';
  let stdout = '';
  let exitCode: number | null | undefined;
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  createInterface({ input: child.stdout }).on('line', (text) => {
    stdout += `${text}\n`;
    let line: DemoLine;
    try {
      line = JSON.parse(text) as DemoLine;
    } catch {
      // Kept for the test's assertion instead of throwing inside the stream handler.
      notJson.push(text);
      return;
    }
    lines.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.match(line)) {
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // After 'close' stdout has been read to its end: no line can come any more.
  const closed = new Promise<void>((resolve) =>
    child.once('close', (code) => {
      exitCode = code;
      resolve();
    }),
  );
  const output = () => stdout + stderr;
  return {
    child,
    lines,
    notJson,
    exited,
    output,
    /** The first line that matches, once it comes; fails when the demo exits or the deadline passes first. */
    next(match: (line: DemoLine) => boolean, what: string): Promise<DemoLine> {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const fail = (why: string) => {
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(new Error(`no ${what} line: ${why}; output so far:\n${output()}`));
        };
        const waiter = {
          match,
          resolve: (line: DemoLine) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        const timer = setTimeout(() => fail(`not within ${LINE_DEADLINE_MS} ms`), LINE_DEADLINE_MS);
        waiters.add(waiter);
        if (exitCode !== undefined) fail(`the demo exited (${exitCode})`);
        else void closed.then(() => waiters.has(waiter) && fail(`the demo exited (${exitCode})`));
      });
    },
  };
}

describe('nanoclaw demo', () => {
  let docker: DockerForTests;
  let workDir: string | null = null;
  let demo: ReturnType<typeof startDemo> | null = null;

  beforeAll(async () => {
    docker = await dockerForTests();
  });

  afterEach(async () => {
    if (demo && demo.child.exitCode === null) {
      demo.child.kill('SIGKILL');
      await demo.exited;
    }
    demo = null;
    if (workDir) {
      // What the demo process wrote (tokens, grants, key, API token): the scan checks its output for them.
      await recordDataDirSecrets(path.join(workDir, 'data', 'demo'));
      await rm(workDir, { recursive: true, force: true });
    }
    workDir = null;
  });

  it('goes from AUTH_REQUIRED to a consent to a token file to the skill succeeding, and exits', async (context) => {
    if (!docker.available) return context.skip();
    workDir = await mkdtemp(path.join(tmpdir(), 'nanoclaw-demo-'));
    demo = startDemo(workDir, ['--exit-when-done']);

    const ready = await demo.next((line) => line.type === 'demo_ready', 'demo_ready');
    const prompt = await demo.next((line) => line.type === 'auth_required', 'auth_required');
    expect(prompt).toMatchObject({ owner: 'main', provider: 'demo', skill: 'demo' });
    expect(prompt.scopes).toEqual(['openid', 'demo:read']);

    // The user opens the terminal's link and presses Allow on the consent page.
    const daemonUrl = String(ready.url);
    const jar = new CookieJar();
    const callback = await authorizeHeadless(String(prompt.authorizeUrl), {
      answer: 'allow',
      callbackUrl: `${daemonUrl}/auth/oauth/demo/callback`,
      jar,
    });
    const landing = await fetch(callback, {
      headers: { cookie: jar.header() },
      redirect: 'manual',
      signal: AbortSignal.timeout(15_000),
    });
    expect(landing.status).toBe(200);
    expect(await landing.text()).toContain('demo is connected');

    const result = await demo.next((line) => line.type === 'demo_result', 'demo_result');
    expect(result).toMatchObject({ skill: 'demo', owner: 'main', exitCode: 0, reason: 'exited' });
    expect(await demo.exited).toBe(0);

    const skillLines = demo.lines
      .filter((line) => line.type === 'skill_output' && line.stream === 'stdout')
      .map((line) => line.line);
    expect(skillLines.some((line) => String(line).startsWith("demo skill: the user's token is here"))).toBe(
      true,
    );
    expect(skillLines.some((line) => String(line).startsWith('demo skill: the service token is here'))).toBe(
      true,
    );

    const tokenPath = path.join(workDir, 'data', 'demo', 'tokens', 'main', 'demo.json');
    const token = JSON.parse(await readFile(tokenPath, 'utf8')) as { access_token: string; provider: string };
    expect(token.provider).toBe('demo');
    expect((await stat(tokenPath)).mode & 0o777).toBe(0o640);
    // The token exists on disk, yet none of what the demo printed carries it.
    expect(demo.output()).not.toContain(token.access_token);
    expect(demo.notJson).toEqual([]);
    // oidc-provider's notice on Node 20, a release nanoclaw supports, is not for the user.
    expect(demo.output()).not.toContain('Unsupported runtime');
    // The user's and the service's token files and grants, the store's key and the API token.
    expect(await recordDataDirSecrets(path.join(workDir, 'data', 'demo'))).toMatchObject({
      tokenFiles: 2,
      grants: 2,
      key: true,
      apiToken: true,
    });
    expect(await containersWithLabel(docker.docker, 'nanoclaw.skill', 'demo')).toEqual([]);
  });

  it('stops on Ctrl-C while it waits for the consent, leaving no container behind', async (context) => {
    if (!docker.available) return context.skip();
    workDir = await mkdtemp(path.join(tmpdir(), 'nanoclaw-demo-'));
    demo = startDemo(workDir, []);
    await demo.next((line) => line.type === 'auth_required', 'auth_required');
    demo.child.kill('SIGINT');
    expect(await demo.exited).toBe(130);
    expect(demo.notJson).toEqual([]);
    expect(await containersWithLabel(docker.docker, 'nanoclaw.skill', 'demo')).toEqual([]);
  });
});
