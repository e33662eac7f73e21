import {
  chmod,
  chown,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  realpath,
  rm,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SkillSnapshots, SNAPSHOT_MAX_IDLE_MS } from '../../../src/sandbox/skill-snapshots.js';

let root: string;
let skillsDir: string;
let dataDir: string;
const DAY = 24 * 60 * 60 * 1000;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-skill-snapshots-'));
  skillsDir = path.join(root, 'skills');
  dataDir = path.join(root, 'data');
  await mkdir(path.join(skillsDir, 'hello', 'lib'), { recursive: true });
  await writeFile(path.join(skillsDir, 'hello', 'skill.yaml'), 'name: hello\ncommand: [python3, main.py]\n');
  await writeFile(path.join(skillsDir, 'hello', 'main.py'), 'print("hi")\n', { mode: 0o700 });
  await writeFile(path.join(skillsDir, 'hello', 'lib', 'util.py'), 'x = 1\n', { mode: 0o600 });
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('SkillSnapshots', () => {
  it('writes the files once, readable by all and writable by none but us, under a folder only we enter', async () => {
    const snapshot = await new SkillSnapshots({ dataDir }).prepare(skillsDir, 'hello');
    expect(path.dirname(snapshot)).toBe(path.join(await realpath(root), 'data', 'skill-files'));
    expect(path.basename(snapshot)).toMatch(/^[0-9a-f]{64}$/);
    expect(await modeOf(path.dirname(snapshot))).toBe(0o700);
    expect(await modeOf(snapshot)).toBe(0o755);
    expect(await modeOf(path.join(snapshot, 'lib'))).toBe(0o755);
    expect(await modeOf(path.join(snapshot, 'lib', 'util.py'))).toBe(0o644);
    expect(await modeOf(path.join(snapshot, 'main.py'))).toBe(0o755);
    expect((await lstat(snapshot)).uid).toBe(process.getuid?.() ?? 0);
    // Nothing half-written is left beside it.
    expect(await readdir(path.dirname(snapshot))).toEqual([path.basename(snapshot)]);
  });

  it('reuses the snapshot while the files stay the same, and makes another when a name, mode or byte changes', async () => {
    const snapshots = new SkillSnapshots({ dataDir });
    const first = await snapshots.prepare(skillsDir, 'hello');
    const inode = (await lstat(path.join(first, 'main.py'))).ino;
    expect(await snapshots.prepare(skillsDir, 'hello')).toBe(first);
    expect((await lstat(path.join(first, 'main.py'))).ino).toBe(inode);

    await writeFile(path.join(skillsDir, 'hello', 'main.py'), 'print("ho")\n');
    const changed = await snapshots.prepare(skillsDir, 'hello');
    expect(changed).not.toBe(first);
    await chmod(path.join(skillsDir, 'hello', 'lib', 'util.py'), 0o755);
    const executable = await snapshots.prepare(skillsDir, 'hello');
    expect(new Set([first, changed, executable]).size).toBe(3);
    expect(await modeOf(path.join(executable, 'lib', 'util.py'))).toBe(0o755);
  });

  it('lets writers of the same files race: one snapshot, no temporary folder left', async () => {
    const results = await Promise.all(
      Array.from({ length: 4 }, () => new SkillSnapshots({ dataDir }).prepare(skillsDir, 'hello')),
    );
    expect(new Set(results).size).toBe(1);
    expect(await readdir(path.join(dataDir, 'skill-files'))).toEqual([path.basename(results[0] ?? '')]);
  });

  it('removes, when it writes one, snapshots no run used for 7 days; a used one stays', async () => {
    let now = Date.now();
    const snapshots = new SkillSnapshots({ dataDir, now: () => now });
    const old = await snapshots.prepare(skillsDir, 'hello');
    await writeFile(path.join(skillsDir, 'hello', 'main.py'), 'print("v2")\n');
    const used = await snapshots.prepare(skillsDir, 'hello');
    // Both were written long ago; `used` is used again after 8 days, then a third version is written.
    const longAgo = (now - 8 * DAY) / 1000;
    await utimes(old, longAgo, longAgo);
    await utimes(used, longAgo, longAgo);
    now += 1000;
    expect(await snapshots.prepare(skillsDir, 'hello')).toBe(used);
    await writeFile(path.join(skillsDir, 'hello', 'main.py'), 'print("v3")\n');
    const latest = await snapshots.prepare(skillsDir, 'hello');
    expect((await readdir(path.join(dataDir, 'skill-files'))).sort()).toEqual(
      [path.basename(used), path.basename(latest)].sort(),
    );
    expect(SNAPSHOT_MAX_IDLE_MS).toBe(7 * DAY);
  });

  it('writes the snapshots folder again when it was removed while the runner lived', async () => {
    const snapshots = new SkillSnapshots({ dataDir });
    const first = await snapshots.prepare(skillsDir, 'hello');
    await rm(path.join(dataDir, 'skill-files'), { recursive: true });
    expect(await snapshots.prepare(skillsDir, 'hello')).toBe(first);
    expect(await modeOf(path.join(first, 'main.py'))).toBe(0o755);
    expect(await modeOf(path.dirname(first))).toBe(0o700);
  });

  it('refuses a data folder others may write to, naming it', async () => {
    await mkdir(dataDir, { mode: 0o700 });
    await chmod(dataDir, 0o777);
    await expect(new SkillSnapshots({ dataDir }).prepare(skillsDir, 'hello')).rejects.toMatchObject({
      code: 'SKILL_FILES_INVALID',
      message: expect.stringContaining('writable by others'),
    });
  });

  it('refuses a snapshot root that is a symbolic link', async () => {
    await mkdir(dataDir, { mode: 0o700 });
    await mkdir(path.join(root, 'elsewhere'), { mode: 0o700 });
    await symlink(path.join(root, 'elsewhere'), path.join(dataDir, 'skill-files'));
    await expect(new SkillSnapshots({ dataDir }).prepare(skillsDir, 'hello')).rejects.toMatchObject({
      code: 'SKILL_FILES_INVALID',
    });
  });

  it.runIf(process.getuid?.() === 0)('refuses a snapshot root that another user owns', async () => {
    await mkdir(path.join(dataDir, 'skill-files'), { recursive: true, mode: 0o700 });
    await chown(path.join(dataDir, 'skill-files'), 12345, 12345);
    await expect(new SkillSnapshots({ dataDir }).prepare(skillsDir, 'hello')).rejects.toMatchObject({
      code: 'SKILL_FILES_INVALID',
      message: expect.stringContaining('uid 12345'),
    });
  });
});

async function modeOf(file: string): Promise<number> {
  return (await lstat(file)).mode & 0o7777;
}
