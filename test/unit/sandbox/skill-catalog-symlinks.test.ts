import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SkillCatalog } from '../../../src/sandbox/skill-catalog.js';

let root: string;
let skillsDir: string;
let elsewhere: string;

async function writeSkillAt(folder: string, name: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  await writeFile(path.join(folder, 'skill.yaml'), `name: ${name}\ncommand: [python3, main.py]\n`);
}

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-skill-links-'));
  skillsDir = path.join(root, 'skills');
  elsewhere = path.join(root, 'elsewhere', 'linked');
  await mkdir(skillsDir);
  await writeSkillAt(path.join(skillsDir, 'plain'), 'plain');
  // A valid skill outside the skills folder, linked in.
  await writeSkillAt(elsewhere, 'linked');
  await symlink(elsewhere, path.join(skillsDir, 'linked'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const symlinkProblem = (name: string) => ({
  skill: name,
  file: path.join(skillsDir, name),
  code: 'SKILL_FOLDER_SYMLINK',
  problems: [expect.stringContaining('(folder): is a symbolic link')],
});

describe('SkillCatalog and symbolic links', () => {
  it('refuses a linked skill folder at load, out loud', async () => {
    const catalog = await SkillCatalog.load(skillsDir);
    expect(catalog.list().map((skill) => skill.name)).toEqual(['plain']);
    expect(catalog.problems()).toEqual([symlinkProblem('linked')]);
    expect(() => catalog.get('linked')).toThrow(
      expect.objectContaining({
        code: 'UNKNOWN_SKILL',
        message: expect.stringContaining('is a symbolic link'),
      }),
    );
  });

  it('refuses it the same way when the watcher reloads it', async () => {
    const catalog = await SkillCatalog.load(skillsDir);
    expect(await catalog.reload('linked')).toEqual({
      status: 'invalid',
      problem: symlinkProblem('linked'),
      kept: null,
    });
    expect(catalog.find('linked')).toBeUndefined();
  });

  it('drops a loaded skill whose folder is replaced by a link, instead of keeping it in use', async () => {
    const catalog = await SkillCatalog.load(skillsDir);
    expect(catalog.find('plain')).toBeDefined();
    await rename(path.join(skillsDir, 'plain'), path.join(root, 'elsewhere', 'plain'));
    await symlink(path.join(root, 'elsewhere', 'plain'), path.join(skillsDir, 'plain'));
    expect(await catalog.reload('plain')).toEqual({
      status: 'invalid',
      problem: symlinkProblem('plain'),
      kept: null,
    });
    expect(() => catalog.get('plain')).toThrow(expect.objectContaining({ code: 'UNKNOWN_SKILL' }));
  });

  it('forgets the problem once the link is replaced by a real folder', async () => {
    const catalog = await SkillCatalog.load(skillsDir);
    await rm(path.join(skillsDir, 'linked'));
    await writeSkillAt(path.join(skillsDir, 'linked'), 'linked');
    expect(await catalog.reload('linked')).toMatchObject({ status: 'loaded' });
    expect(catalog.problems()).toEqual([]);
    expect(catalog.get('linked').directory).toBe(path.join(skillsDir, 'linked'));
  });

  it('treats a removed link like a removed folder', async () => {
    const catalog = await SkillCatalog.load(skillsDir);
    await rm(path.join(skillsDir, 'linked'));
    await catalog.reloadAll();
    expect(catalog.problems()).toEqual([]);
    expect(await catalog.reload('linked')).toEqual({ status: 'removed' });
  });
});
