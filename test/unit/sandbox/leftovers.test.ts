import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatDeadline, parseDeadline } from '../../../src/sandbox/container-labels.js';
import type { SkillRunner } from '../../../src/sandbox/skill-runner.js';
import { bareSkillRunner } from '../../support/bare-skill-runner.js';
import { FakeContainerRuntime } from '../../support/docker-fake-container-runtime.js';

const HOST = 'leftover-test-host';
const INSTANCE = 'instance-of-this-test';
const TIMEOUT_SECONDS = 30;
const GRACE_SECONDS = 2;

let root: string;
let containers: FakeContainerRuntime;

function newRunner(): Promise<SkillRunner> {
  return bareSkillRunner({
    root,
    containers,
    stopGraceSeconds: GRACE_SECONDS,
    process: { host: HOST, pid: process.pid, instance: INSTANCE },
  });
}

const owned = (extra: Record<string, string>) => ({
  'nanoclaw.managed': 'true',
  'nanoclaw.host': HOST,
  'nanoclaw.pid': String(process.pid),
  ...extra,
});

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-leftovers-'));
  await mkdir(path.join(root, 'skills', 'hello'), { recursive: true });
  await writeFile(
    path.join(root, 'skills', 'hello', 'skill.yaml'),
    `name: hello\ncommand: [python3, main.py]\ntimeout: ${TIMEOUT_SECONDS}\n`,
  );
  containers = new FakeContainerRuntime();
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('leftover skill containers', () => {
  it("labels a run's container with its process instance and a deadline past its timeout and grace", async () => {
    const runner = await newRunner();
    const before = Date.now();
    await runner.run({ skill: 'hello', owner: 'alice' });
    const after = Date.now();
    const [container] = containers.created;
    expect(container?.labels).toMatchObject({
      'nanoclaw.host': HOST,
      'nanoclaw.pid': String(process.pid),
      'nanoclaw.instance': INSTANCE,
    });
    const deadline = parseDeadline(container?.labels['nanoclaw.deadline']);
    expect(deadline).not.toBeNull();
    expect(deadline!).toBeGreaterThan(before + (TIMEOUT_SECONDS + GRACE_SECONDS) * 1000);
    // Some room for the runner's own clean-up, but not an open end.
    expect(deadline!).toBeLessThan(after + (TIMEOUT_SECONDS + GRACE_SECONDS) * 1000 + 10 * 60_000);
  });

  it("removes a restarted process's containers (same host and pid, another instance) and overdue ones of any host", async () => {
    const future = formatDeadline(Date.now() + 3600_000);
    const past = formatDeadline(Date.now() - 1000);
    const restarted = containers.addForeign(
      owned({ 'nanoclaw.instance': 'before-restart', 'nanoclaw.deadline': future }),
    );
    const overdueElsewhere = containers.addForeign({
      ...owned({ 'nanoclaw.instance': 'elsewhere', 'nanoclaw.deadline': past }),
      'nanoclaw.host': 'a-host-that-was-recreated',
    });
    const runningElsewhere = containers.addForeign({
      ...owned({ 'nanoclaw.instance': 'elsewhere', 'nanoclaw.deadline': future }),
      'nanoclaw.host': 'another-live-host',
    });
    const ours = containers.addForeign(owned({ 'nanoclaw.instance': INSTANCE, 'nanoclaw.deadline': future }));
    const runner = await newRunner();
    expect((await runner.cleanupLeftovers()).sort()).toEqual([restarted.id, overdueElsewhere.id].sort());
    expect(containers.remaining.map((container) => container.id).sort()).toEqual(
      [runningElsewhere.id, ours.id].sort(),
    );
  });
});
