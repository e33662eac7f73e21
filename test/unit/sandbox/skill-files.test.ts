import { execFile } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/log/logger.js';
import { readSkillFiles } from '../../../src/sandbox/skill-files.js';
import { bareSkillRunner } from '../../support/bare-skill-runner.js';
import { FakeContainerRuntime } from '../../support/docker-fake-container-runtime.js';

const run = promisify(execFile);
let root: string;
let skillsDir: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-skill-files-'));
  skillsDir = path.join(root, 'skills');
  await mkdir(path.join(skillsDir, 'hello', 'lib'), { recursive: true });
  await writeFile(path.join(skillsDir, 'hello', 'skill.yaml'), 'name: hello\ncommand: [python3, main.py]\n');
  await writeFile(path.join(skillsDir, 'hello', 'main.py'), 'print("hi")\n', { mode: 0o777 });
  await writeFile(path.join(skillsDir, 'hello', 'lib', 'util.py'), 'x = 1\n', { mode: 0o666 });
  await mkdir(path.join(root, 'tokens', 'alice'), { recursive: true });
  await writeFile(path.join(root, 'tokens', 'alice', 'github.json'), '{"access_token":"alice-secret"}');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Mode and path of each entry, as `ls -l` shows the mode. */
function listing(entries: ReadonlyArray<{ path: string; mode: number }>): string[] {
  return entries.map((entry) => `${entry.mode.toString(8)} ${entry.path}`);
}

describe('readSkillFiles', () => {
  it('takes the files with modes nobody but their owner can write, and follows no link at any depth', async () => {
    await symlink(path.join(root, 'tokens', 'alice'), path.join(skillsDir, 'hello', 'linked-folder'));
    await symlink(path.join(root, 'tokens', 'alice', 'github.json'), path.join(skillsDir, 'hello', 'x.json'));
    await run('mkfifo', [path.join(skillsDir, 'hello', 'pipe')]);
    const entries = await readSkillFiles(skillsDir, 'hello');
    expect(listing(entries).sort()).toEqual(
      ['755 lib/', '644 lib/util.py', '755 main.py', '644 skill.yaml'].sort(),
    );
    expect(entries.some((entry) => entry.content?.includes('alice-secret'))).toBe(false);
  });

  it('refuses a skill folder that is a symlink', async () => {
    await rm(path.join(skillsDir, 'hello'), { recursive: true });
    await symlink(path.join(root, 'tokens', 'alice'), path.join(skillsDir, 'hello'));
    await expect(readSkillFiles(skillsDir, 'hello')).rejects.toMatchObject({
      code: 'SKILL_FILES_INVALID',
    });
  });
});

describe("a skill folder swapped for a symlink after the catalog's check", () => {
  it("never starts a container that could see the link's target", async () => {
    const containers = new FakeContainerRuntime();
    const runner = await bareSkillRunner({ root, containers, logger: silentLogger() });
    // The catalog has checked the folder; now its author swaps it for a link to another owner's tokens.
    await rename(path.join(skillsDir, 'hello'), path.join(root, 'hello-away'));
    await symlink(path.join(root, 'tokens', 'alice'), path.join(skillsDir, 'hello'));

    await expect(runner.run({ skill: 'hello', owner: 'main' })).rejects.toMatchObject({
      code: 'SKILL_FILES_INVALID',
    });
    expect(containers.created).toEqual([]);
  });

  it("binds nothing from the skills folder: only nanoclaw's read-only snapshot of its files", async () => {
    const containers = new FakeContainerRuntime();
    const runner = await bareSkillRunner({ root, containers, logger: silentLogger() });
    await runner.run({ skill: 'hello', owner: 'main' });
    const [container] = containers.created;
    const skillsRoot = path.resolve(skillsDir);
    const mounts = container?.spec.mounts ?? [];
    expect(mounts.filter((mount) => !path.relative(skillsRoot, mount.source).startsWith('..'))).toEqual([]);
    const skillMount = mounts.find((mount) => mount.target === '/opt/nanoclaw/skills/hello');
    expect(skillMount).toEqual({
      source: expect.stringMatching(/^.*\/data\/skill-files\/[0-9a-f]{64}$/),
      target: '/opt/nanoclaw/skills/hello',
      readOnly: true,
    });
    const source = skillMount?.source ?? '';
    expect((await lstat(path.join(source, 'main.py'))).mode & 0o7777).toBe(0o755);
    expect((await lstat(path.join(source, 'lib', 'util.py'))).mode & 0o7777).toBe(0o644);
    expect(await readFile(path.join(source, 'main.py'), 'utf8')).toBe('print("hi")\n');
  });
});
