import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/log/logger.js';
import { archiveSkillFiles } from '../../../src/sandbox/skill-files.js';
import { bareSkillRunner } from '../../support/bare-skill-runner.js';
import { FakeContainerRuntime } from '../../support/docker-fake-container-runtime.js';

const run = promisify(execFile);
let root: string;
let skillsDir: string;

/** `tar -tv` of an archive: mode and name of each entry. */
async function listing(archive: Buffer): Promise<string[]> {
  const file = path.join(root, 'listing.tar');
  await writeFile(file, archive);
  const { stdout } = await run('tar', ['-tvf', file]);
  return stdout
    .trim()
    .split('\n')
    .map((line) => {
      const fields = line.split(/\s+/);
      return `${fields[0]} ${fields[fields.length - 1]}`;
    });
}

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

describe('archiveSkillFiles', () => {
  it('takes the files with modes nobody but root can write, and follows no link at any depth', async () => {
    await symlink(path.join(root, 'tokens', 'alice'), path.join(skillsDir, 'hello', 'linked-folder'));
    await symlink(path.join(root, 'tokens', 'alice', 'github.json'), path.join(skillsDir, 'hello', 'x.json'));
    await run('mkfifo', [path.join(skillsDir, 'hello', 'pipe')]);
    const archive = await archiveSkillFiles(skillsDir, 'hello');
    expect((await listing(archive)).sort()).toEqual(
      ['drwxr-xr-x lib/', '-rw-r--r-- lib/util.py', '-rwxr-xr-x main.py', '-rw-r--r-- skill.yaml'].sort(),
    );
    expect(archive.includes('alice-secret')).toBe(false);
  });

  it('refuses a skill folder that is a symlink', async () => {
    await rm(path.join(skillsDir, 'hello'), { recursive: true });
    await symlink(path.join(root, 'tokens', 'alice'), path.join(skillsDir, 'hello'));
    await expect(archiveSkillFiles(skillsDir, 'hello')).rejects.toMatchObject({
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

  it('binds nothing from the skills folder into a container: its files are copied in before the start', async () => {
    const containers = new FakeContainerRuntime();
    const runner = await bareSkillRunner({ root, containers, logger: silentLogger() });
    await runner.run({ skill: 'hello', owner: 'main' });
    const [container] = containers.created;
    const skillsRoot = path.resolve(skillsDir);
    expect(
      container?.spec.mounts.filter((mount) => !path.relative(skillsRoot, mount.source).startsWith('..')),
    ).toEqual([]);
    const [put] = containers.archives.get(container?.id ?? '') ?? [];
    expect(put?.folder).toBe('/opt/nanoclaw/skills/hello');
    expect(await listing(put?.archive ?? Buffer.alloc(0))).toContain('-rwxr-xr-x main.py');
    const order = containers.calls.filter((call) => call.id === container?.id).map((call) => call.method);
    expect(order.indexOf('putArchive')).toBeLessThan(order.indexOf('start'));
  });
});

describe('the skill files of a run', () => {
  it('are not held in memory while the skill runs, once they are in its container', async () => {
    setFlagsFromString('--expose-gc');
    const collectGarbage = runInNewContext('gc') as () => void;
    /** Keeps the archive weakly only: whatever still holds it strongly is the runner. */
    class WeakArchives extends FakeContainerRuntime {
      archive: WeakRef<Buffer> | null = null;
      override async putArchive(id: string, _folder: string, archive: Buffer): Promise<void> {
        this.calls.push({ method: 'putArchive', id });
        this.archive = new WeakRef(archive);
      }
    }
    const containers = new WeakArchives();
    let heldWhileRunning: boolean | null = null;
    containers.behaviour = async (container) => {
      for (let round = 0; round < 3; round += 1) {
        collectGarbage();
        await new Promise((resolve) => setImmediate(resolve));
      }
      heldWhileRunning = containers.archive?.deref() !== undefined;
      container.exit(0);
    };
    const runner = await bareSkillRunner({ root, containers, logger: silentLogger() });
    await runner.run({ skill: 'hello', owner: 'main' });
    expect(containers.archive).not.toBeNull();
    expect(heldWhileRunning).toBe(false);
  });
});
