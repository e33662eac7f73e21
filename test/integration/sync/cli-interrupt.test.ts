import { spawn } from 'node:child_process';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI_ENTRY, TSX_LOADER } from '../../support/cli.js';
import { FakeNangoServer, nangoReplies } from '../../support/fake-nango-server.js';
import { Project } from './project.js';

let server: FakeNangoServer;
let project: Project;

beforeEach(async () => {
  server = await FakeNangoServer.start();
  project = await Project.create(server, { providers: [{ name: 'google-calendar' }] });
});
afterEach(async () => {
  await server.close();
  await project.remove();
});

/** `nanoclaw <args>` as a real process, sent SIGINT (Ctrl-C) once Nango has been asked for a connection. */
function interruptedOnceAsked(args: readonly string[]) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(process.execPath, ['--import', TSX_LOADER, CLI_ENTRY, ...args], {
        cwd: project.dir,
        env: { PATH: process.env.PATH, ...project.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const poll = setInterval(() => {
        if (server.requestsTo('getConnection').length > 0) {
          clearInterval(poll);
          child.kill('SIGINT');
        }
      }, 20);
      // Only a hang gets here; the test then fails on how the process ended.
      const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
      child.once('error', reject);
      child.once('close', (code, signal) => {
        clearInterval(poll);
        clearTimeout(killer);
        resolve({ code, signal, stdout, stderr });
      });
    },
  );
}

describe('Ctrl-C during nanoclaw sync', () => {
  it('exits 130 with a clear message and keeps the token file as it was', async () => {
    server.addConnection({ integration: 'google-calendar', endUserId: 'main' });
    // An old token on disk that the sync must refresh, and a Nango that takes its time answering.
    const file = project.tokenPath('main', 'google-calendar');
    await mkdir(path.dirname(file), { recursive: true });
    const old = JSON.stringify({
      provider: 'google-calendar',
      access_token: 'expired-token-before-the-interrupted-sync',
      token_type: 'Bearer',
      expires_at: new Date(Date.now() - 60_000).toISOString(),
      scopes: [],
      synced_at: new Date(Date.now() - 3600_000).toISOString(),
    });
    await writeFile(file, old);
    server.reply({ route: 'getConnection' }, nangoReplies.slow(60_000));

    const run = await interruptedOnceAsked(['sync']);
    expect(run.stderr).toContain('nanoclaw: interrupted (Ctrl-C): the sync stopped before it was done');
    expect(run.stderr).toContain('(INTERRUPTED)');
    expect(run.stdout).toBe('');
    expect({ code: run.code, signal: run.signal }).toEqual({ code: 130, signal: null });
    expect(await readFile(file, 'utf8')).toBe(old);
  }, 60_000);
});
