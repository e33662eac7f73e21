import { randomUUID } from 'node:crypto';
import { DEFAULT_SKILL_LIMITS } from '../../../src/config/skill-limits.js';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
