import { spawn } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  containersWithLabel,
  dockerForTests,
  REPO_SKILLS_DIR,
  TEST_BASE_IMAGE,
  TEST_SKILL_IMAGE,
} from '../../support/docker.js';
import { FakeNangoServer } from '../../support/fake-nango-server.js';
import { TSX_LOADER } from '../../support/cli.js';

const docker = await dockerForTests();

const CLI_ENTRY = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));

interface CliRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `nanoclaw <args>` as a real process; `onStdout` may signal it (Ctrl-C) mid-run. */
function nanoclaw(
  args: readonly string[],
  cwd: string,
  onStdout?: (text: string, child: ReturnType<typeof spawn>) => void,
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX_LOADER, CLI_ENTRY, ...args], {
      cwd,
      env: { PATH: process.env.PATH, NANOCLAW_SANDBOX_NETWORK: 'none' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      onStdout?.(stdout, child);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code, stdout, stderr });
    });
  });
}

/** The engine, looked at directly (not through the product). */
function engine() {
  if (!docker.available) throw new Error('Docker is not available');
  return docker.docker;
}

describe.skipIf(!docker.available)('nanoclaw run and nanoclaw skills, as a real process', () => {
  let nango: FakeNangoServer;
  let cwd: string;

  beforeAll(async () => {
    if (!docker.available) return;
    nango = await FakeNangoServer.start();
    cwd = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-cli-run-'));
    const skillsDir = path.join(cwd, 'skills');
    await cp(path.join(REPO_SKILLS_DIR, 'google-calendar'), path.join(skillsDir, 'google-calendar'), {
      recursive: true,
    });
    const skills: Record<string, Record<string, unknown>> = {
      'cli-streams': {
        command: [
          'python3',
          '-c',
          'import sys; print("to stdout"); print("to stderr", file=sys.stderr); sys.exit(7)',
        ],
      },
      'cli-sleeper': {
        command: ['python3', '-c', 'import time; print("started", flush=True); time.sleep(120)'],
      },
      'cli-slow': { command: ['python3', '-c', 'import time; time.sleep(120)'], timeout: 1 },
    };
    for (const [name, manifest] of Object.entries(skills)) {
      await mkdir(path.join(skillsDir, name), { recursive: true });
      await writeFile(path.join(skillsDir, name, 'skill.yaml'), toYaml({ name, ...manifest }));
    }
    for (const dir of [
      cwd,
      skillsDir,
      ...[...Object.keys(skills), 'google-calendar'].map((name) => path.join(skillsDir, name)),
    ]) {
      await chmod(dir, 0o755);
    }
    await writeFile(
      path.join(cwd, 'nanoclaw.config.yaml'),
      toYaml({
        nango: { host: nango.url, secretKey: nango.secretKey },
        sandbox: { image: TEST_SKILL_IMAGE, baseImage: TEST_BASE_IMAGE, network: 'none' },
        providers: [{ name: 'google-calendar', source: 'nango', scopes: ['calendar', 'calendar.events'] }],
      }),
    );
  });

  afterAll(async () => {
    await nango?.close();
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  it('prints the authorization prompt with the link on stderr and exits 3', async () => {
    const run = await nanoclaw(['run', 'google-calendar', '--', '--check'], cwd);
    expect(run.stderr).toMatch(
      /^nanoclaw: google-calendar needs authorization for owner main: https?:\/\/\S+$/m,
    );
    expect(run.stdout).toBe('');
    expect(run.exitCode).toBe(3);
  });

  it('--json prints every event as a JSON line and ends with the run result', async () => {
    // An owner with no connection, whatever the other tests connect.
    const run = await nanoclaw(
      ['run', 'google-calendar', '--owner', 'json-reader', '--json', '--', '--check'],
      cwd,
    );
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string });
    expect(lines.map((line) => line.type)).toEqual(
      expect.arrayContaining(['skill_started', 'auth_required', 'skill_exited', 'run_result']),
    );
    expect(lines.at(-1)).toMatchObject({ type: 'run_result', reason: 'auth_required', exitCode: 0 });
    expect(run.exitCode).toBe(3);
  });

  it('lists skills and whether their tokens are ready, then runs with the token', async () => {
    // An owner of its own: the tests above rely on theirs having no connection.
    const owner = 'connected';
    const before = await nanoclaw(['skills', '--owner', owner, '--json'], cwd);
    const listing = JSON.parse(before.stdout) as {
      skills: Array<{ name: string; owners: Array<{ ready: boolean }> }>;
    };
    expect(listing.skills.find((skill) => skill.name === 'google-calendar')?.owners).toEqual([
      expect.objectContaining({ owner, ready: false }),
    ]);

    nango.addConnection({ integration: 'google-calendar', connectionId: owner, endUserId: owner });
    const run = await nanoclaw(['run', 'google-calendar', '--owner', owner, '--', '--check'], cwd);
    expect(run.exitCode).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ provider: 'google-calendar', token_present: true });
    for (const secret of nango.secrets) expect(run.stdout + run.stderr).not.toContain(secret);

    const after = await nanoclaw(['skills', '--owner', owner], cwd);
    expect(after.stdout).toMatch(/google-calendar\s+connected\s+yes\s+google-calendar \(fresh\)/);
    expect(after.exitCode).toBe(0);
  });

  it("streams the skill's stdout and stderr apart and exits with its code", async () => {
    const run = await nanoclaw(['run', 'cli-streams'], cwd);
    expect(run.stdout).toBe('to stdout\n');
    expect(run.stderr).toContain('to stderr\n');
    expect(run.exitCode).toBe(7);
  });

  it('exits 124 when the skill times out', async () => {
    const run = await nanoclaw(['run', 'cli-slow'], cwd);
    expect(run.exitCode).toBe(124);
    expect(run.stderr).toContain('cli-slow ran past its timeout and was stopped');
    expect(await containersWithLabel(engine(), 'nanoclaw.skill', 'cli-slow')).toEqual([]);
  });

  it('Ctrl-C stops the container and leaves none behind', async () => {
    let interrupted = false;
    const run = await nanoclaw(['run', 'cli-sleeper'], cwd, (stdout, child) => {
      if (!interrupted && stdout.includes('started')) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    expect(interrupted).toBe(true);
    expect(run.exitCode).toBe(130);
    expect(run.stderr).toContain('cli-sleeper was stopped');
    expect(await containersWithLabel(engine(), 'nanoclaw.skill', 'cli-sleeper')).toEqual([]);
  });

  it('rejects an unknown skill before touching Docker', async () => {
    const run = await nanoclaw(['run', 'no-such-skill'], cwd);
    expect(run.stderr).toContain('skill "no-such-skill" not found');
    expect(run.exitCode).toBe(2);
  });
});
