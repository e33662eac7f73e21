import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { TSX_LOADER } from '../../support/cli.js';
import { recordSecret } from '../../support/secret-scan.js';

const CLI_ENTRY = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));

interface Served {
  child: ChildProcessByStdio<null, Readable, Readable>;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let dir: string;
let served: Served | null = null;

afterEach(async () => {
  if (served && served.child.exitCode === null) served.child.kill('SIGKILL');
  served = null;
  await rm(dir, { recursive: true, force: true });
});

function serve(args: string[]): Served {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, CLI_ENTRY, 'serve', ...args], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      NANOCLAW_DATA_DIR: path.join(dir, 'data'),
      NANOCLAW_SKILLS_DIR: path.join(dir, 'skills'),
      // No Docker for this test: serve must still start and stop cleanly.
      DOCKER_HOST: `unix://${path.join(dir, 'no-docker.sock')}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function waitForLine(read: () => string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!read().includes('\n')) {
    if (Date.now() > deadline) throw new Error(`serve printed nothing in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return read().split('\n')[0]!;
}

describe('nanoclaw serve as a process', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    'prints the page URL and a login link, serves, and exits 0 on %s with a stream open',
    async (signal) => {
      dir = await mkdtemp(path.join(tmpdir(), 'nanoclaw-serve-'));
      served = serve(['--port', '0', '--json']);
      const listening = JSON.parse(await waitForLine(served.stdout)) as {
        type: string;
        url: string;
        loginUrl: string;
        apiTokenFile: string;
      };
      expect(listening.type).toBe('listening');
      expect(listening.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(listening.loginUrl).toMatch(new RegExp(`^${listening.url}/\\?token=[A-Za-z0-9_-]{43}$`));
      const token = (await readFile(listening.apiTokenFile, 'utf8')).trim();
      // Made in the child process, where the scan's hooks cannot see it.
      recordSecret(token);
      expect(served.stdout()).not.toContain(token);

      const page = await fetch(listening.loginUrl, { redirect: 'manual' });
      expect(page.status).toBe(303);
      const status = await fetch(`${listening.url}/api/status`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(status.status).toBe(200);
      // An open event stream must not hold the shutdown up.
      const events = await fetch(`${listening.url}/api/events`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const reader = events.body!.getReader();
      await reader.read();

      // A shutdown held up by the stream shows as this test's timeout.
      served.child.kill(signal);
      expect(await served.exited).toEqual({ code: 0, signal: null });
      expect(served.stderr()).toContain('cannot clean up leftover skill containers');
      await expect(fetch(`${listening.url}/api/status`)).rejects.toThrow();
    },
  );

  it('refuses a bad --port with a usage error', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'nanoclaw-serve-'));
    served = serve(['--port', 'http']);
    const exit = await served.exited;
    expect(exit.code).toBe(2);
    expect(served.stderr()).toContain('--port: expected a port number');
  });

  it('keeps the one-time login link off output that is not a terminal (a shared log), and says how to get one', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'nanoclaw-serve-'));
    served = serve([`--port=0`]);
    const deadline = Date.now() + 30_000;
    while (!served.stdout().includes('Press Ctrl-C')) {
      if (Date.now() > deadline) throw new Error(`serve printed: ${served.stdout()}${served.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(served.stdout()).not.toMatch(/\?token=/);
    expect(served.stdout()).toMatch(
      /curl -s -X POST -H "Authorization: Bearer \$\(cat .*api-token\)" http:\/\/127\.0\.0\.1:\d+\/api\/login-links/,
    );
    served.child.kill('SIGTERM');
    expect((await served.exited).code).toBe(0);
  });
});
