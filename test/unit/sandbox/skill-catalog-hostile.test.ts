import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSkillsFromCatalog } from '../../../src/doctor/create-doctor-dependencies.js';
import { MAX_MANIFEST_BYTES, SkillCatalog } from '../../../src/sandbox/skill-catalog.js';

const run = promisify(execFile);
let skillsDir: string;

async function writeSkill(name: string, yaml: string): Promise<void> {
  await mkdir(path.join(skillsDir, name), { recursive: true });
  await writeFile(path.join(skillsDir, name, 'skill.yaml'), yaml);
}

/** The "billion laughs": each level refers to the one before ten times. */
function aliasBomb(): string {
  const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let level = 1; level < 10; level += 1) {
    const previous = `*a${level - 1}`;
    lines.push(`a${level}: &a${level} [${Array(10).fill(previous).join(',')}]`);
  }
  return `name: bomb\ncommand: [python3]\n${lines.join('\n')}\n`;
}

beforeEach(async () => {
  skillsDir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-hostile-skills-'));
  await writeSkill('good', 'name: good\ncommand: [python3, main.py]\n');
});
afterEach(async () => {
  await rm(skillsDir, { recursive: true, force: true });
});

describe('a hostile skill.yaml makes only its own skill invalid', () => {
  it('an alias bomb', async () => {
    await writeSkill('bomb', aliasBomb());
    const catalog = await SkillCatalog.load(skillsDir);
    expect(catalog.list().map((skill) => skill.name)).toEqual(['good']);
    expect(catalog.problems()).toEqual([
      expect.objectContaining({
        skill: 'bomb',
        code: 'INVALID_MANIFEST',
        problems: [expect.stringMatching(/alias/i)],
      }),
    ]);
  });

  it('a FIFO named skill.yaml: refused at once, without blocking on it', async () => {
    await mkdir(path.join(skillsDir, 'fifo'));
    await run('mkfifo', [path.join(skillsDir, 'fifo', 'skill.yaml')]);
    const catalog = await SkillCatalog.load(skillsDir);
    expect(catalog.list().map((skill) => skill.name)).toEqual(['good']);
    expect(catalog.problems()).toEqual([
      expect.objectContaining({ skill: 'fifo', problems: [expect.stringMatching(/not a regular file/)] }),
    ]);
  });

  it('a manifest larger than the cap', async () => {
    await writeSkill('huge', `name: huge\ncommand: [python3]\n# ${'x'.repeat(MAX_MANIFEST_BYTES)}\n`);
    const catalog = await SkillCatalog.load(skillsDir);
    expect(catalog.list().map((skill) => skill.name)).toEqual(['good']);
    expect(catalog.problems()).toEqual([
      expect.objectContaining({ skill: 'huge', problems: [expect.stringMatching(/larger than/)] }),
    ]);
  });

  it('a skill.yaml that is a symlink to a file elsewhere', async () => {
    await mkdir(path.join(skillsDir, 'linked'));
    await writeFile(path.join(skillsDir, 'elsewhere.yaml'), 'name: linked\ncommand: [python3]\n');
    await run('ln', [
      '-s',
      path.join(skillsDir, 'elsewhere.yaml'),
      path.join(skillsDir, 'linked', 'skill.yaml'),
    ]);
    const catalog = await SkillCatalog.load(skillsDir);
    expect(catalog.list().map((skill) => skill.name)).toEqual(['good']);
    expect(catalog.problems()).toEqual([
      expect.objectContaining({ skill: 'linked', problems: [expect.stringMatching(/not a regular file/)] }),
    ]);
  });

  it('and doctor reports it per skill, with the good ones listed', async () => {
    await writeSkill('bomb', aliasBomb());
    const loaded = await loadSkillsFromCatalog(skillsDir, new AbortController().signal);
    expect(loaded.skills.map((skill) => skill.name)).toEqual(['good']);
    expect(loaded.problems).toEqual([
      { file: path.join(skillsDir, 'bomb', 'skill.yaml'), problems: [expect.stringMatching(/alias/i)] },
    ]);
  });
});
