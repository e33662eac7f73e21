import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../src/config/resolve-config.js';
import { SkillCatalog } from '../../../src/sandbox/skill-catalog.js';
import { bareSkillRunner } from '../../support/bare-skill-runner.js';
import { FakeContainerRuntime } from '../../support/docker-fake-container-runtime.js';

let root: string;

async function writeSkill(name: string, extra: string): Promise<void> {
  await mkdir(path.join(root, 'skills', name), { recursive: true });
  await writeFile(
    path.join(root, 'skills', name, 'skill.yaml'),
    `name: ${name}\ncommand: [python3]\n${extra}`,
  );
}

function resolved(sandbox: Record<string, unknown> = {}) {
  const result = resolveConfig({ sandbox }, { env: {}, cwd: root, configPath: null });
  if ('errors' in result) throw new Error(result.errors.join('\n'));
  return result.config;
}

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-limits-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("the operator's maximums for a skill's limits", () => {
  it('have defaults that refuse absurd asks and keep every default manifest runnable', () => {
    expect(resolved().sandbox.limits).toEqual({
      memoryBytes: 2 * 1024 ** 3,
      pids: 1024,
      timeoutSeconds: 24 * 60 * 60,
      cpus: null,
    });
  });

  it('are read from sandbox: in the config, with path: message errors', () => {
    expect(resolved({ maxMemory: '512m', maxPids: 256, maxTimeout: 600, cpus: 1.5 }).sandbox.limits).toEqual({
      memoryBytes: 512 * 1024 ** 2,
      pids: 256,
      timeoutSeconds: 600,
      cpus: 1.5,
    });
    const bad = resolveConfig(
      { sandbox: { maxMemory: 'lots', maxPids: 0 } },
      { env: {}, cwd: root, configPath: null },
    );
    expect('errors' in bad && bad.errors).toEqual([
      expect.stringMatching(/^sandbox\.maxMemory: /),
      expect.stringMatching(/^sandbox\.maxPids: /),
    ]);
  });

  it('make a skill that asks for more invalid, that skill only, saying which maximum', async () => {
    await writeSkill('greedy', 'memory: 8000000g\npids: 32768\ntimeout: 86400\n');
    await writeSkill('modest', 'memory: 256m\npids: 128\n');
    const catalog = await SkillCatalog.load(path.join(root, 'skills'), undefined, {
      limits: resolved({ maxTimeout: 3600 }).sandbox.limits,
    });
    expect(catalog.list().map((skill) => skill.name)).toEqual(['modest']);
    expect(catalog.problems()).toEqual([
      expect.objectContaining({
        skill: 'greedy',
        code: 'INVALID_MANIFEST',
        problems: [
          'timeout: must be at most 3600 seconds (sandbox.maxTimeout)',
          'memory: must be at most 2048m (sandbox.maxMemory)',
          'pids: must be at most 1024 (sandbox.maxPids)',
        ],
      }),
    ]);
  });

  it('are enforced by the runner too, and the cpus cap reaches the container', async () => {
    await writeSkill('greedy', 'pids: 4096\n');
    await writeSkill('modest', '');
    const containers = new FakeContainerRuntime();
    const runner = await bareSkillRunner({
      root,
      containers,
      sandbox: { limits: resolved({ cpus: 0.5 }).sandbox.limits },
    });
    await expect(runner.run({ skill: 'greedy', owner: 'main' })).rejects.toMatchObject({
      code: 'INVALID_MANIFEST',
    });
    expect(containers.created).toEqual([]);
    await runner.run({ skill: 'modest', owner: 'main' });
    expect(containers.created[0]?.spec).toMatchObject({ nanoCpus: 500_000_000, pidsLimit: 128 });
  });
});
