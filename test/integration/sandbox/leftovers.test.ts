import { randomUUID } from 'node:crypto';
import { DEFAULT_SKILL_LIMITS } from '../../../src/config/skill-limits.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerOwnerProcess } from '../../../src/sandbox/container-labels.js';
import { EventBus } from '../../../src/events/event-bus.js';
import { silentLogger } from '../../../src/log/logger.js';
import { formatDeadline } from '../../../src/sandbox/container-labels.js';
import { SkillCatalog } from '../../../src/sandbox/skill-catalog.js';
import { SkillRunner } from '../../../src/sandbox/skill-runner.js';
import { TokenSourceRegistry } from '../../../src/sources/token-source.js';
import { TokenFolder } from '../../../src/tokens/token-folder.js';
import { TokenSync } from '../../../src/tokens/token-sync.js';
import { containersWithLabel, dockerForTests, TEST_SKILL_IMAGE } from '../../support/docker.js';

const docker = await dockerForTests();

describe.skipIf(!docker.available)('leftover containers on a real engine', () => {
  let root: string;
  const made: string[] = [];

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-leftovers-'));
    const skills: Record<string, string> = {
      // Long enough for the test to find its container; reads its own files from their snapshot.
      quick: 'name: quick\ncommand: [sh, -c, "cat /opt/nanoclaw/skills/quick/skill.yaml && sleep 2"]\n',
      sleeper: 'name: sleeper\ncommand: [sleep, "120"]\ntimeout: 150\n',
    };
    for (const [name, manifest] of Object.entries(skills)) {
      await mkdir(path.join(root, 'skills', name), { recursive: true });
      await writeFile(path.join(root, 'skills', name, 'skill.yaml'), manifest);
    }
  });
  afterAll(async () => {
    if (docker.available) {
      await Promise.all(
        made.map((id) =>
          docker.docker
            .getContainer(id)
            .remove({ force: true })
            .catch(() => {}),
        ),
      );
    }
    await rm(root, { recursive: true, force: true });
  });

  /** A skill runner over this test's folders, as the process `owner` (another daemon when it differs). */
  async function runnerAs(owner: Partial<ContainerOwnerProcess>): Promise<SkillRunner> {
    if (!docker.available) throw new Error('no Docker engine');
    const sources = new TokenSourceRegistry({});
    const events = new EventBus();
    const tokenSync = new TokenSync({
      config: { providers: [], refresh: { marginMs: 300_000, maxAgeMs: 300_000, concurrency: 1 } },
      folder: new TokenFolder(path.join(root, 'tokens')),
      sources,
      events,
      logger: silentLogger(),
    });
    return new SkillRunner({
      config: {
        dataDir: path.join(root, 'data'),
        skillsDir: path.join(root, 'skills'),
        sandbox: {
          image: TEST_SKILL_IMAGE,
          baseImage: TEST_SKILL_IMAGE,
          network: 'none',
          tokenGroup: null,
          limits: DEFAULT_SKILL_LIMITS,
        },
      },
      catalog: await SkillCatalog.load(path.join(root, 'skills')),
      containers: docker.containers,
      tokenSync,
      sources,
      events,
      logger: silentLogger(),
      process: owner,
    });
  }

  /** The mounts of a run's container, read from the engine while it exists. */
  async function containerOfRun(
    runId: string,
  ): Promise<{ id: string; volumes: string[]; skillMount: { source: string; rw: boolean } | null }> {
    if (!docker.available) throw new Error('no Docker engine');
    for (let attempt = 0; attempt < 600; attempt += 1) {
      const [id] = await containersWithLabel(docker.docker, 'nanoclaw.run-id', runId);
      if (id !== undefined) {
        made.push(id);
        const info = await docker.docker.getContainer(id).inspect();
        const volumes = info.Mounts.filter((mount) => mount.Type === 'volume').map(
          (mount) => mount.Name ?? '',
        );
        const skill = info.Mounts.find((mount) => mount.Destination.startsWith('/opt/nanoclaw/skills/'));
        return { id, volumes, skillMount: skill ? { source: skill.Source, rw: skill.RW } : null };
      }
      await sleep(50);
    }
    throw new Error(`no container of run ${runId} appeared`);
  }

  it("creates no volume at all: the skill's files are a read-only bind of nanoclaw's snapshot", async () => {
    if (!docker.available) return;
    const runner = await runnerAs({ host: `nanoclaw-test-${randomUUID()}`, instance: randomUUID() });
    const { runId, done } = runner.start({ skill: 'quick', owner: 'main' });
    const { volumes, skillMount } = await containerOfRun(runId).catch(async (error: unknown) => {
      await done;
      throw error;
    });
    // The skill read its own files from the snapshot.
    expect(await done).toMatchObject({ exitCode: 0 });

    expect(volumes).toEqual([]);
    expect(skillMount).toEqual({
      source: expect.stringMatching(/\/data\/skill-files\/[0-9a-f]{64}$/),
      rw: false,
    });
  });

  it('creates no volume for a container the leftover reaper removes while it runs', async () => {
    if (!docker.available) return;
    const host = `nanoclaw-test-${randomUUID()}`;
    // The daemon that started the run, and the one that replaced it after a restart (same pid).
    const previous = await runnerAs({ host, pid: process.pid, instance: randomUUID() });
    const restarted = await runnerAs({ host, pid: process.pid, instance: randomUUID() });
    const { runId, done } = previous.start({ skill: 'sleeper', owner: 'main' });
    const ended = done.catch(() => null);
    try {
      const { id, volumes } = await containerOfRun(runId);
      expect(volumes).toEqual([]);
      // Overdue containers of other processes on this engine may go too: only this one is asserted.
      expect(await restarted.cleanupLeftovers()).toContain(id);
      expect(await containersWithLabel(docker.docker, 'nanoclaw.run-id', runId)).toEqual([]);
    } finally {
      await previous.stopAll();
      await ended;
    }
  });

  it("removes a restarted daemon's containers and overdue ones from a host that is gone, and keeps running ones", async () => {
    if (!docker.available) return;
    // A host name of this test alone, so no other process cleaning up on this engine takes these
    // containers for its own or for a dead local process's.
    const host = `nanoclaw-test-${randomUUID()}`;
    const sources = new TokenSourceRegistry({});
    const events = new EventBus();
    const tokenSync = new TokenSync({
      config: { providers: [], refresh: { marginMs: 300_000, maxAgeMs: 300_000, concurrency: 1 } },
      folder: new TokenFolder(path.join(root, 'tokens')),
      sources,
      events,
      logger: silentLogger(),
    });
    // The daemon as it is after a restart in the same container: same host name, same pid.
    const runner = new SkillRunner({
      config: {
        dataDir: path.join(root, 'data'),
        skillsDir: path.join(root, 'skills'),
        sandbox: {
          image: TEST_SKILL_IMAGE,
          baseImage: TEST_SKILL_IMAGE,
          network: 'none',
          tokenGroup: null,
          limits: DEFAULT_SKILL_LIMITS,
        },
      },
      catalog: await SkillCatalog.load(path.join(root, 'skills')),
      containers: docker.containers,
      tokenSync,
      sources,
      events,
      logger: silentLogger(),
      process: { host, pid: process.pid },
    });
    const create = async (labels: Record<string, string>) => {
      const container = await docker.docker.createContainer({
        Image: TEST_SKILL_IMAGE,
        Cmd: ['sleep', '300'],
        Labels: { 'nanoclaw.managed': 'true', ...labels },
        HostConfig: { NetworkMode: 'none', Init: true },
      });
      made.push(container.id);
      await container.start();
      return container.id;
    };
    const future = formatDeadline(Date.now() + 3600_000);
    const beforeRestart = await create({
      'nanoclaw.host': host,
      'nanoclaw.pid': String(process.pid),
      'nanoclaw.instance': randomUUID(),
      'nanoclaw.deadline': future,
    });
    const overdue = await create({
      'nanoclaw.host': `nanoclaw-test-recreated-${randomUUID()}`,
      'nanoclaw.pid': '1',
      'nanoclaw.instance': randomUUID(),
      'nanoclaw.deadline': formatDeadline(Date.now() - 1000),
    });
    const elsewhere = await create({
      'nanoclaw.host': `nanoclaw-test-live-${randomUUID()}`,
      'nanoclaw.pid': '1',
      'nanoclaw.instance': randomUUID(),
      'nanoclaw.deadline': future,
    });

    const removed = await runner.cleanupLeftovers();
    expect(removed).toContain(beforeRestart);
    expect(removed).not.toContain(elsewhere);
    const remaining = await containersWithLabel(docker.docker, 'nanoclaw.managed', 'true');
    expect(remaining).not.toContain(beforeRestart);
    // Any process cleaning up on this engine may take an overdue container: it is gone, whoever did it.
    expect(remaining).not.toContain(overdue);
    expect(remaining).toContain(elsewhere);
  });
});
