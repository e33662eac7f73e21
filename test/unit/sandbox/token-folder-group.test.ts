import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/log/logger.js';
import type { SkillRunner } from '../../../src/sandbox/skill-runner.js';
import { bareSkillRunner } from '../../support/bare-skill-runner.js';
import { FakeContainerRuntime } from '../../support/docker-fake-container-runtime.js';

let root: string;
let containers: FakeContainerRuntime;
/** The runner's log lines, parsed. */
let logged: Array<Record<string, unknown>>;

/** A runner over a token folder whose owner folder `alice` belongs to `gid`. */
async function runnerWithOwnerFolderGroup(gid: number): Promise<SkillRunner> {
  const tokensDir = path.join(root, 'tokens');
  await mkdir(path.join(tokensDir, 'alice'), { recursive: true, mode: 0o750 });
  await chown(path.join(tokensDir, 'alice'), process.getuid?.() ?? 0, gid);
  return bareSkillRunner({
    root,
    containers,
    logger: createLogger({
      level: 'info',
      destination: { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) },
    }),
    process: { host: 'group-test-host' },
  });
}

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-folder-group-'));
  await mkdir(path.join(root, 'skills', 'hello'), { recursive: true });
  await writeFile(
    path.join(root, 'skills', 'hello', 'skill.yaml'),
    'name: hello\ncommand: [python3, main.py]\n',
  );
  containers = new FakeContainerRuntime();
  logged = [];
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

// Handing a folder to root's group, or to any group but our own, takes root.
describe.skipIf(process.getuid?.() !== 0)("the token folder's group in a skill container", () => {
  it("never gives a skill root's group, and says why its tokens may be unreadable", async () => {
    const runner = await runnerWithOwnerFolderGroup(0);
    expect(await runner.run({ skill: 'hello', owner: 'alice' })).toMatchObject({ exitCode: 0 });
    expect(containers.created[0]?.spec.groupAdd).toEqual([]);
    expect(logged.filter((line) => line.code === 'TOKEN_FOLDER_ROOT_GROUP')).toEqual([
      expect.objectContaining({
        level: 40,
        owner: 'alice',
        skill: 'hello',
        folder: path.join(root, 'tokens', 'alice'),
        msg: expect.stringContaining("belongs to root's group (gid 0)"),
      }),
    ]);
  });

  it('adds any other group of the folder, with nothing to report', async () => {
    const runner = await runnerWithOwnerFolderGroup(4321);
    await runner.run({ skill: 'hello', owner: 'alice' });
    expect(containers.created[0]?.spec.groupAdd).toEqual(['4321']);
    expect(logged.filter((line) => line.level === 40)).toEqual([]);
  });
});
