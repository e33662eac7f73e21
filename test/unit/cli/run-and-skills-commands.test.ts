import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exitCodeForRun, runCommand } from '../../../src/cli/commands/run.js';
import { skillsCommand, type SkillListing } from '../../../src/cli/commands/skills.js';
import { createRuntimeFromConfig, type Runtime } from '../../../src/app/runtime.js';
import { resolveConfig } from '../../../src/config/resolve-config.js';
import { silentLogger } from '../../../src/log/logger.js';
import type { RunResult } from '../../../src/sandbox/skill-runner.js';
import { TokenSourceRegistry, type TokenSource } from '../../../src/sources/token-source.js';
import { FakeContainerRuntime } from '../../support/docker-fake-container-runtime.js';

class TextSink extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

const source: TokenSource = {
  kind: 'nango',
  async fetchToken() {
    return { status: 'needs_auth', code: 'NO_CONNECTION', reason: 'not connected' };
  },
  async authorizationUrl({ owner, provider }) {
    return `https://connect.example/${owner}/${provider.name}`;
  },
  async disconnect() {},
  async close() {},
};

let dir: string;
let runtime: Runtime;
let containers: FakeContainerRuntime;
let stdout: TextSink;
let stderr: TextSink;

async function writeSkill(name: string, yaml: string): Promise<void> {
  await mkdir(path.join(dir, 'skills', name), { recursive: true });
  await writeFile(path.join(dir, 'skills', name, 'skill.yaml'), yaml);
}

function run(skill: string, options: { json?: boolean; owner?: string; signal?: AbortSignal } = {}) {
  return runCommand(
    runtime,
    { skill, json: options.json, owner: options.owner },
    { stdout, stderr, signal: options.signal ?? new AbortController().signal },
    { containers, stopGraceSeconds: 0.01 },
  );
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-run-command-'));
  const resolved = resolveConfig(
    {
      providers: [
        { name: 'google-calendar', source: 'nango', scopes: ['calendar'] },
        { name: 'github', source: 'nango' },
      ],
      nango: { secretKey: 'unused-in-these-tests' },
    },
    { env: {}, cwd: dir, configPath: null },
  );
  if ('errors' in resolved) throw new Error(resolved.errors.join('\n'));
  runtime = createRuntimeFromConfig(resolved.config, [], {
    logger: silentLogger(),
    sources: { registry: new TokenSourceRegistry({ nango: source }), nango: null },
  });
  containers = new FakeContainerRuntime();
  stdout = new TextSink();
  stderr = new TextSink();
  await writeSkill(
    'calendar',
    'name: calendar\ncommand: [python3, main.py]\nproviders:\n  - name: google-calendar\n    scopes: [calendar]\n',
  );
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('runCommand', () => {
  it("streams the skill's stdout and stderr apart and prints the prompt on stderr; exits 3", async () => {
    containers.behaviour = (container) => {
      container.stdout('listing events');
      container.stderr('a warning');
      container.stdout('AUTH_REQUIRED:google-calendar:calendar');
      container.exit(0);
    };
    const result = await run('calendar');
    expect(stdout.text).toBe('listing events\n');
    expect(stderr.text).toBe(
      'a warning\nnanoclaw: google-calendar needs authorization for owner main: https://connect.example/main/google-calendar\n',
    );
    expect(result).toEqual({ exitCode: 3, text: '', json: undefined });
  });

  it('--json prints one JSON line per event and a run_result line, nothing else', async () => {
    containers.behaviour = (container) => {
      container.stdout('hello');
      container.exit(5);
    };
    const result = await run('calendar', { json: true, owner: 'alice' });
    const lines = stdout.text
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => line.type)).toEqual([
      'token_needs_auth',
      'skill_started',
      'skill_output',
      'skill_exited',
      'run_result',
    ]);
    expect(lines[2]).toMatchObject({ owner: 'alice', stream: 'stdout', line: 'hello' });
    expect(lines.at(-1)).toMatchObject({ exitCode: 5, reason: 'exited', owner: 'alice' });
    expect(stderr.text).toBe('');
    expect(result.exitCode).toBe(5);
  });

  it('marks a line cut at 64 KiB', async () => {
    containers.behaviour = (container) => {
      container.stdout('y'.repeat(70_000));
      container.exit(0);
    };
    await run('calendar');
    expect(stdout.text).toBe(`${'y'.repeat(65_536)} [line cut at 64 KiB]\n`);
  });

  it('stops the container on Ctrl-C and exits 130', async () => {
    const controller = new AbortController();
    containers.behaviour = (container) => {
      container.stdout('working');
      controller.abort();
    };
    const result = await run('calendar', { signal: controller.signal });
    expect(result.exitCode).toBe(130);
    expect(stderr.text).toContain('calendar was stopped');
    expect(containers.remaining).toEqual([]);
  });

  it('says so on stderr when it builds the skill image first', async () => {
    containers.images.clear();
    await run('calendar');
    expect(stderr.text).toMatch(
      /^nanoclaw: building the skill image nanoclaw-skill:latest from Dockerfile.skill/,
    );
    expect(containers.builds).toHaveLength(1);
  });

  it('refuses an unknown skill or a bad owner before touching Docker', async () => {
    await expect(run('nope')).rejects.toMatchObject({ code: 'UNKNOWN_SKILL' });
    await expect(run('calendar', { owner: '../x' })).rejects.toMatchObject({ code: 'INVALID_NAME' });
    expect(containers.calls).toEqual([]);
  });
});

describe('exitCodeForRun', () => {
  const base: RunResult = {
    runId: 'r',
    skill: 's',
    owner: 'o',
    exitCode: 9,
    reason: 'exited',
    authRequired: [],
  };
  it.each([
    ['exited', 9, 9],
    ['auth_required', 0, 3],
    ['timeout', 124, 124],
    ['aborted', 130, 130],
    ['failed', 125, 125],
  ] as const)('%s -> %i', (reason, exitCode, expected) => {
    expect(exitCodeForRun({ ...base, reason, exitCode })).toBe(expected);
  });
});

describe('skillsCommand', () => {
  it("lists skills with their providers and whether the owner's tokens are ready, and reports invalid ones", async () => {
    await writeSkill('mail', 'name: mail\ncommand: [x]\nproviders:\n  - name: gmail\n');
    await writeSkill('broken', 'name: broken\ncommand: []\n');
    const now = new Date();
    await runtime.folder.write(
      'main',
      {
        provider: 'google-calendar',
        access_token: 'secret-token-not-listed',
        token_type: 'Bearer',
        expires_at: new Date(Date.now() + 3600_000).toISOString(),
        scopes: ['calendar'],
        synced_at: now.toISOString(),
      },
      now,
    );

    const result = await skillsCommand(runtime, {});
    const { skills, problems } = result.json as { skills: SkillListing[]; problems: unknown[] };
    expect(skills.map((skill) => [skill.name, skill.owners[0]?.ready])).toEqual([
      ['calendar', true],
      ['mail', false],
    ]);
    expect(skills[1]?.owners[0]?.providers).toEqual([
      expect.objectContaining({ provider: 'gmail', configured: false, state: 'not-configured' }),
    ]);
    expect(problems).toEqual([expect.objectContaining({ skill: 'broken', code: 'INVALID_MANIFEST' })]);
    expect(result.text).toMatch(/calendar\s+main\s+yes\s+google-calendar \(fresh\)/);
    expect(result.text).toContain('invalid skill broken');
    expect(result.exitCode).toBe(1);
    expect(JSON.stringify(result.json) + result.text).not.toContain('secret-token-not-listed');
  });
});
