import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI_ENTRY, TSX_LOADER } from '../../support/cli.js';
import {
  containersWithLabel,
  dockerForTests,
  TEST_BASE_IMAGE,
  type DockerForTests,
} from '../../support/docker.js';
import { authorizeHeadless, CookieJar } from '../../support/oidc-server.js';

type DemoLine = Record<string, unknown> & { type: string };

/** `nanoclaw demo --json` as a real process, its stdout read line by line as it comes. */
function startDemo(cwd: string, args: string[]) {
  const child: ChildProcessByStdio<null, Readable, Readable> = spawn(
    process.execPath,
    ['--import', TSX_LOADER, CLI_ENTRY, 'demo', '--json', ...args],
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
  const waiters: Array<{ match: (line: DemoLine) => boolean; resolve: (line: DemoLine) => void }> = [];
  let stderr = '';
  let stdout = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  createInterface({ input: child.stdout }).on('line', (text) => {
    stdout += `${text}\n`;
    const line = JSON.parse(text) as DemoLine;
    lines.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.match(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    output: () => stdout + stderr,
    next(match: (line: DemoLine) => boolean): Promise<DemoLine> {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

describe('nanoclaw demo', () => {
  let docker: DockerForTests;
  let workDir: string;
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
    await rm(workDir, { recursive: true, force: true });
  });

  it('goes from AUTH_REQUIRED to a consent to a token file to the skill succeeding, and exits', async (context) => {
    if (!docker.available) return context.skip();
    workDir = await mkdtemp(path.join(tmpdir(), 'nanoclaw-demo-'));
    demo = startDemo(workDir, ['--exit-when-done']);

    const ready = await demo.next((line) => line.type === 'demo_ready');
    const prompt = await demo.next((line) => line.type === 'auth_required');
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
    const landing = await fetch(callback, { headers: { cookie: jar.header() }, redirect: 'manual' });
    expect(landing.status).toBe(200);
    expect(await landing.text()).toContain('demo is connected');

    const result = await demo.next((line) => line.type === 'demo_result');
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
    expect(await containersWithLabel(docker.docker, 'nanoclaw.skill', 'demo')).toEqual([]);
  });

  it('stops on Ctrl-C while it waits for the consent, leaving no container behind', async (context) => {
    if (!docker.available) return context.skip();
    workDir = await mkdtemp(path.join(tmpdir(), 'nanoclaw-demo-'));
    demo = startDemo(workDir, []);
    await demo.next((line) => line.type === 'auth_required');
    demo.child.kill('SIGINT');
    expect(await demo.exited).toBe(130);
    expect(await containersWithLabel(docker.docker, 'nanoclaw.skill', 'demo')).toEqual([]);
  });
});
