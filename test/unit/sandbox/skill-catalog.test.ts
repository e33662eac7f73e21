import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SkillCatalog } from '../../../src/sandbox/skill-catalog.js';

let skillsDir: string;

async function writeSkill(name: string, yaml: string): Promise<void> {
  await mkdir(path.join(skillsDir, name), { recursive: true });
  await writeFile(path.join(skillsDir, name, 'skill.yaml'), yaml);
}

const valid = (name: string, extra = '') => `name: ${name}\ncommand: [python3, main.py]\n${extra}`;

beforeEach(async () => {
  skillsDir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-skills-'));
});
afterEach(async () => {
  await rm(skillsDir, { recursive: true, force: true });
});

describe('SkillCatalog', () => {
  it('loads every skill folder and reports invalid manifests apart', async () => {
    await writeSkill('beta', valid('beta'));
    await writeSkill('alpha', valid('alpha', 'providers:\n  - name: github\n'));
    await writeSkill('broken', 'name: broken\ncommand: []\n');
    await mkdir(path.join(skillsDir, 'no-manifest'));
    await mkdir(path.join(skillsDir, 'Not A Skill'));
    await writeFile(path.join(skillsDir, 'README.md'), 'not a folder');

    const catalog = await SkillCatalog.load(skillsDir);
    expect(catalog.list().map((skill) => skill.name)).toEqual(['alpha', 'beta']);
    expect(catalog.get('alpha')).toMatchObject({
      directory: path.join(skillsDir, 'alpha'),
      manifestPath: path.join(skillsDir, 'alpha', 'skill.yaml'),
      providers: [{ name: 'github', scopes: [] }],
    });
    expect(catalog.problems()).toEqual([
      {
        skill: 'broken',
        file: path.join(skillsDir, 'broken', 'skill.yaml'),
        code: 'INVALID_MANIFEST',
        problems: ['command: expected at least the program to run'],
      },
    ]);
  });

  it('says why a skill cannot be found', async () => {
    await writeSkill('broken', 'name: broken\ncommand: []\n');
    const catalog = await SkillCatalog.load(skillsDir);
    expect(() => catalog.get('missing')).toThrow(expect.objectContaining({ code: 'UNKNOWN_SKILL' }));
    expect(() => catalog.get('broken')).toThrow(/command: expected at least the program to run/);
    expect(() => catalog.get('../etc')).toThrow(expect.objectContaining({ code: 'INVALID_NAME' }));
  });

  it('is empty when the skills folder does not exist', async () => {
    const catalog = await SkillCatalog.load(path.join(skillsDir, 'nowhere'));
    expect(catalog.list()).toEqual([]);
  });

  it('keeps the last valid version when a reload finds an invalid manifest, until it is fixed', async () => {
    await writeSkill('hello', valid('hello', 'timeout: 10\n'));
    const catalog = await SkillCatalog.load(skillsDir);

    await writeSkill('hello', valid('hello', 'timeout: -5\n'));
    const outcome = await catalog.reload('hello');
    expect(outcome).toMatchObject({
      status: 'invalid',
      problem: { problems: ['timeout: must be more than 0'] },
      kept: { timeoutSeconds: 10 },
    });
    expect(catalog.get('hello').timeoutSeconds).toBe(10);
    expect(catalog.problems()).toHaveLength(1);

    await writeSkill('hello', valid('hello', 'timeout: 20\n'));
    expect(await catalog.reload('hello')).toMatchObject({ status: 'loaded', skill: { timeoutSeconds: 20 } });
    expect(catalog.get('hello').timeoutSeconds).toBe(20);
    expect(catalog.problems()).toEqual([]);
  });

  it('picks up new skills and forgets removed ones', async () => {
    const catalog = await SkillCatalog.load(skillsDir);
    await writeSkill('fresh', valid('fresh'));
    expect(await catalog.reload('fresh')).toMatchObject({ status: 'loaded' });
    await rm(path.join(skillsDir, 'fresh'), { recursive: true });
    expect(await catalog.reload('fresh')).toEqual({ status: 'removed' });
    expect(catalog.find('fresh')).toBeUndefined();

    await writeSkill('other', valid('other'));
    await catalog.reloadAll();
    expect(catalog.list().map((skill) => skill.name)).toEqual(['other']);
    await rm(path.join(skillsDir, 'other'), { recursive: true });
    await catalog.reloadAll();
    expect(catalog.list()).toEqual([]);
  });
});
