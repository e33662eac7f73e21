import { chmod, mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TOKEN_DIR_MODE, TokenFolder } from '../../../src/tokens/token-folder.js';

const isRoot = process.getuid?.() === 0;
const TOKEN_GROUP = 10001;

let root: string;

beforeEach(async () => {
  root = path.join(await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-owner-dir-')), 'tokens');
  await mkdir(root);
});

afterEach(async () => {
  await rm(path.dirname(root), { recursive: true, force: true });
});

/** An owner folder made the way root makes one by hand: group 0 and a mode of its own. */
async function preCreate(owner: string, mode: number): Promise<string> {
  const dir = path.join(root, owner);
  await mkdir(dir);
  await chmod(dir, mode);
  return dir;
}

describe('TokenFolder.ensureOwnerDir on a folder that already exists', () => {
  it.skipIf(!isRoot)('gives it the token group and mode 0750', async () => {
    const dir = await preCreate('alice', 0o700);
    expect((await stat(dir)).gid).toBe(0);

    await new TokenFolder(root, { group: TOKEN_GROUP }).ensureOwnerDir('alice');

    const info = await stat(dir);
    expect(info.gid).toBe(TOKEN_GROUP);
    expect(info.mode & 0o7777).toBe(TOKEN_DIR_MODE);
  });

  it.skipIf(!isRoot)('changes nothing once the folder is right (stat only, no chown or chmod)', async () => {
    const folder = new TokenFolder(root, { group: TOKEN_GROUP });
    await folder.ensureOwnerDir('bob');
    const before = await stat(path.join(root, 'bob'));
    await new Promise((resolve) => setTimeout(resolve, 20));

    await folder.ensureOwnerDir('bob');

    // chown and chmod move the change time even when they change nothing.
    expect((await stat(path.join(root, 'bob'))).ctimeMs).toBe(before.ctimeMs);
  });

  it('leaves an existing folder alone when no token group is set', async () => {
    const dir = await preCreate('carol', 0o700);
    const before = await stat(dir);

    await new TokenFolder(root).ensureOwnerDir('carol');

    const after = await stat(dir);
    expect(after.mode & 0o7777).toBe(0o700);
    expect(after.gid).toBe(before.gid);
  });

  it.skipIf(!isRoot)('refuses, and does not follow, a symlink that stands in for the folder', async () => {
    const elsewhere = path.join(path.dirname(root), 'elsewhere');
    await mkdir(elsewhere);
    await chmod(elsewhere, 0o700);
    await symlink(elsewhere, path.join(root, 'dave'));

    await expect(new TokenFolder(root, { group: TOKEN_GROUP }).ensureOwnerDir('dave')).rejects.toMatchObject({
      code: 'TOKEN_FOLDER_INVALID',
    });

    const target = await stat(elsewhere);
    expect(target.gid).toBe(0);
    expect(target.mode & 0o7777).toBe(0o700);
  });
});
