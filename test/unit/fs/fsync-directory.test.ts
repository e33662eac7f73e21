import { mkdtemp, realpath, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fsyncDirectory, makeDirectoryDurable } from '../../../src/fs/fsync-directory.js';
import { recordFolderFsyncs, type FolderFsync } from '../../support/folder-fsyncs.js';

let dir: string;
let fsyncs: FolderFsync[];
let restore: () => void;

beforeEach(async () => {
  dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-fsync-')));
  ({ fsyncs, restore } = await recordFolderFsyncs());
});

afterEach(async () => {
  restore();
  await rm(dir, { recursive: true, force: true });
});

describe('fsyncDirectory', () => {
  it('flushes a real folder and leaves its entries as they are', async () => {
    await writeFile(path.join(dir, 'a.json'), '{}');
    await expect(fsyncDirectory(dir)).resolves.toBeUndefined();
    expect(fsyncs).toEqual([{ dir, names: ['a.json'] }]);
    expect((await stat(path.join(dir, 'a.json'))).size).toBe(2);
  });

  it('fails for a folder that is not there, rather than claiming it is durable', async () => {
    await expect(fsyncDirectory(path.join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('makeDirectoryDurable', () => {
  it('creates every missing folder within the mode asked for, and flushes the parent of each', async () => {
    const leaf = path.join(dir, 'a', 'b', 'c');
    await makeDirectoryDurable(leaf, 0o750);
    const info = await stat(leaf);
    expect(info.isDirectory()).toBe(true);
    expect(info.mode & 0o027).toBe(0);
    expect(fsyncs).toEqual(
      expect.arrayContaining([
        { dir, names: ['a'] },
        { dir: path.join(dir, 'a'), names: ['b'] },
        { dir: path.join(dir, 'a', 'b'), names: ['c'] },
      ]),
    );
    expect(fsyncs).toHaveLength(3);
  });

  it('takes a relative path, and costs no fsync for a folder that exists', async () => {
    const relative = path.relative(process.cwd(), path.join(dir, 'x', 'y'));
    await makeDirectoryDurable(relative, 0o750);
    expect((await stat(relative)).isDirectory()).toBe(true);
    expect(fsyncs.map((entry) => entry.dir).sort()).toEqual([dir, path.join(dir, 'x')]);
    fsyncs.length = 0;
    await makeDirectoryDurable(relative, 0o750);
    expect(fsyncs).toEqual([]);
  });
});
