import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { DEFAULT_SKILL_LIMITS } from '../../../src/config/skill-limits.js';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/events/event-bus.js';
import type { NanoclawEvent } from '../../../src/events/types.js';
import { silentLogger } from '../../../src/log/logger.js';
import { SkillCatalog } from '../../../src/sandbox/skill-catalog.js';
import { SkillRunner } from '../../../src/sandbox/skill-runner.js';
import { TokenSourceRegistry } from '../../../src/sources/token-source.js';
import { TokenFolder } from '../../../src/tokens/token-folder.js';
import { TokenSync } from '../../../src/tokens/token-sync.js';
import { dockerForTests, TEST_SKILL_IMAGE } from '../../support/docker.js';

const docker = await dockerForTests();

// A folder of root's group, or of any group but our own, takes root to make.
describe.skipIf(!docker.available || process.getuid?.() !== 0)('the groups of a real skill container', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-folder-group-'));
    await mkdir(path.join(root, 'skills', 'groups'), { recursive: true });
    await writeFile(path.join(root, 'skills', 'groups', 'skill.yaml'), 'name: groups\ncommand: [id, -G]\n');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** The skill's `id -G` when the owner folder belongs to `gid`. */
  async function groupsInside(owner: string, gid: number): Promise<string> {
    if (!docker.available) throw new Error('no Docker');
    const tokensDir = path.join(root, 'tokens');
    await mkdir(path.join(tokensDir, owner), { recursive: true, mode: 0o750 });
    await chown(path.join(tokensDir, owner), 0, gid);
    const events = new EventBus();
    const lines: string[] = [];
    events.subscribe((event: NanoclawEvent) => {
      if (event.type === 'skill_output') lines.push(event.line);
    });
    const sources = new TokenSourceRegistry({});
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
      tokenSync: new TokenSync({
        config: { providers: [], refresh: { marginMs: 300_000, maxAgeMs: 300_000, concurrency: 1 } },
        folder: new TokenFolder(tokensDir),
        sources,
        events,
        logger: silentLogger(),
      }),
      sources,
      events,
      logger: silentLogger(),
    });
    expect(await runner.run({ skill: 'groups', owner })).toMatchObject({ exitCode: 0 });
    return lines.join('\n');
  }

  it("gives the skill the folder's group, but never root's", async () => {
    expect((await groupsInside('shared', 4321)).split(' ').sort()).toEqual(['10001', '4321']);
    expect((await groupsInside('rooted', 0)).split(' ')).toEqual(['10001']);
  });
});
