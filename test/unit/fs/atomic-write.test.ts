import {
  chown,
  lstat,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { writeFileAtomic } from '../../../src/fs/atomic-write.js';
import { withUmask } from '../../support/token-fixtures.js';

const isRoot = process.getuid?.() === 0;
const OTHER_ID = 10001;

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-atomic-write-'));
});

afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

/** `FileHandle.prototype`, whose methods every handle of this process shares. */
async function fileHandlePrototype(): Promise<FileHandle> {
  const probe = await open(dir, 'r');
  const prototype = Object.getPrototypeOf(probe) as FileHandle;
  await probe.close();
  return prototype;
}

describe('writeFileAtomic', () => {
  it.each([0o022, 0o077, 0o000])('gives the file its mode under umask %o', async (mask) => {
    const file = path.join(dir, 'token.json');
    await withUmask(mask, () => writeFileAtomic(file, 'first\n', { mode: 0o640 }));
    await withUmask(mask, () => writeFileAtomic(file, 'second\n', { mode: 0o640 }));
    expect((await stat(file)).mode & 0o7777).toBe(0o640);
    expect(await readFile(file, 'utf8')).toBe('second\n');
    expect(await readdir(dir)).toEqual(['token.json']);
  });

  it('returns the modification time a later stat reports', async () => {
    const file = path.join(dir, 'token.json');
    const { modifiedAt } = await writeFileAtomic(file, 'content', { mode: 0o600 });
    expect(modifiedAt).toEqual((await stat(file)).mtime);
  });

  it('replaces the file with a new one (a rename), so an open reader keeps the old content', async () => {
    const file = path.join(dir, 'token.json');
    await writeFileAtomic(file, 'old', { mode: 0o600 });
    const reader = await open(file, 'r');
    try {
      await writeFileAtomic(file, 'new and longer', { mode: 0o600 });
      expect((await reader.readFile()).toString()).toBe('old');
    } finally {
      await reader.close();
    }
    expect(await readFile(file, 'utf8')).toBe('new and longer');
  });

  it('writes bytes as given, and an empty file', async () => {
    const file = path.join(dir, 'data.bin');
    await writeFileAtomic(file, Uint8Array.from([0, 255, 10]), { mode: 0o600 });
    expect([...(await readFile(file))]).toEqual([0, 255, 10]);
    await writeFileAtomic(file, '', { mode: 0o600 });
    expect((await readFile(file)).length).toBe(0);
  });

  it('replaces a symlink standing at the path instead of writing through it', async () => {
    const elsewhere = path.join(dir, 'elsewhere.json');
    await writeFile(elsewhere, 'not yours');
    const file = path.join(dir, 'token.json');
    await symlink(elsewhere, file);
    await writeFileAtomic(file, 'token', { mode: 0o640 });
    expect(await readFile(elsewhere, 'utf8')).toBe('not yours');
    expect((await stat(file)).isFile()).toBe(true);
    expect(await readFile(file, 'utf8')).toBe('token');
  });

  it('lands writes to one path in the order they were asked for', async () => {
    const file = path.join(dir, 'token.json');
    await Promise.all(
      Array.from({ length: 20 }, (_, index) => writeFileAtomic(file, `write ${index}`, { mode: 0o600 })),
    );
    expect(await readFile(file, 'utf8')).toBe('write 19');
    expect(await readdir(dir)).toEqual(['token.json']);
  });

  it('leaves the old file and no temp file when the fsync fails mid-write', async () => {
    const file = path.join(dir, 'token.json');
    await writeFileAtomic(file, 'old token', { mode: 0o640 });
    const before = await stat(file);
    const failure = Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    vi.spyOn(await fileHandlePrototype(), 'sync').mockRejectedValueOnce(failure);

    await expect(writeFileAtomic(file, 'new token', { mode: 0o640 })).rejects.toMatchObject({ code: 'EIO' });

    expect(await readFile(file, 'utf8')).toBe('old token');
    expect((await stat(file)).ino).toBe(before.ino);
    expect(await readdir(dir)).toEqual(['token.json']);
  });

  it('removes its temp file when the rename fails (a folder stands at the path)', async () => {
    const file = path.join(dir, 'token.json');
    await mkdir(file);
    await writeFile(path.join(file, 'inside'), 'kept');
    await expect(writeFileAtomic(file, 'token', { mode: 0o640 })).rejects.toMatchObject({
      code: expect.stringMatching(/^(EISDIR|ENOTEMPTY|EEXIST)$/),
    });
    expect(await readdir(dir)).toEqual(['token.json']);
    expect(await readFile(path.join(file, 'inside'), 'utf8')).toBe('kept');
  });

  it('stops before creating anything once its signal is aborted', async () => {
    const file = path.join(dir, 'token.json');
    const controller = new AbortController();
    controller.abort(new Error('stopped'));
    await expect(writeFileAtomic(file, 'token', { mode: 0o640, signal: controller.signal })).rejects.toThrow(
      'stopped',
    );
    expect(await readdir(dir)).toEqual([]);
  });

  it.skipIf(!isRoot)('gives the file the owner and group asked for', async () => {
    const file = path.join(dir, 'token.json');
    await withUmask(0o077, () =>
      writeFileAtomic(file, 'token', { mode: 0o640, owner: { uid: 0, gid: OTHER_ID } }),
    );
    const info = await stat(file);
    expect([info.uid, info.gid]).toEqual([0, OTHER_ID]);
    expect(info.mode & 0o7777).toBe(0o640);
  });

  it.skipIf(!isRoot)("keeps the replaced file's owner and group when asked to", async () => {
    const file = path.join(dir, 'grant.json');
    await writeFile(file, 'old', { mode: 0o600 });
    await chown(file, OTHER_ID, OTHER_ID);
    await writeFileAtomic(file, 'new', { mode: 0o600, owner: 'keep' });
    const info = await stat(file);
    expect([info.uid, info.gid]).toEqual([OTHER_ID, OTHER_ID]);
    expect(await readFile(file, 'utf8')).toBe('new');

    const fresh = path.join(dir, 'fresh.json');
    await writeFileAtomic(fresh, 'new', { mode: 0o600, owner: 'keep' });
    expect((await stat(fresh)).uid).toBe(0);

    // A symlink at the path is replaced: the file it points at lends no owner.
    const target = path.join(dir, 'someone-elses');
    await writeFile(target, 'theirs');
    await chown(target, OTHER_ID, OTHER_ID);
    const linked = path.join(dir, 'linked.json');
    await symlink(target, linked);
    await writeFileAtomic(linked, 'new', { mode: 0o600, owner: 'keep' });
    expect([(await lstat(linked)).isFile(), (await stat(linked)).uid]).toEqual([true, 0]);
    expect(await readFile(target, 'utf8')).toBe('theirs');
  });
});
