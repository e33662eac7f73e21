import type * as fsPromises from 'node:fs/promises';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readSkillFiles } from '../../../src/sandbox/skill-files.js';
import { SkillSnapshots } from '../../../src/sandbox/skill-snapshots.js';
import { readAtMost } from '../../../src/sandbox/bounded-read.js';
import { snapshotFolder } from '../../../src/sandbox/folder-snapshot.js';

/**
 * A file that grows between its size check and its read: the size its open handle reports is made
 * smaller than what the file holds (the file's content itself is real).
 */
const understated = vi.hoisted(() => ({ name: '' }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof fsPromises>();
  const open: typeof actual.open = async (...args) => {
    const handle = await actual.open(...args);
    if (understated.name !== '' && path.basename(String(args[0])) === understated.name) {
      const realStat = handle.stat.bind(handle);
      handle.stat = (async (options?: Parameters<typeof handle.stat>[0]) => {
        const info = await realStat(options);
        info.size = 1;
        return info;
      }) as typeof handle.stat;
    }
    return handle;
  };
  return { ...actual, default: { ...actual, open }, open };
});

let root: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-snapshot-limits-'));
  understated.name = '';
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('snapshotFolder limits', () => {
  it('never reads more than the size limit, even from a file that grew after its size was checked', async () => {
    await writeFile(path.join(root, 'small.txt'), 'hi\n');
    await writeFile(path.join(root, 'grows.bin'), Buffer.alloc(4096, 1));
    understated.name = 'grows.bin';
    await expect(snapshotFolder(root, { prefix: '', maxBytes: 1024 })).rejects.toMatchObject({
      code: 'SKILL_FILES_INVALID',
      message: expect.stringContaining('more than'),
    });
  });

  it('reads a file whose size was understated but that fits the limit, whole', async () => {
    await writeFile(path.join(root, 'grows.bin'), Buffer.alloc(700, 7));
    understated.name = 'grows.bin';
    const entries = await snapshotFolder(root, { prefix: '', maxBytes: 1024 });
    expect(entries).toHaveLength(1);
    expect(entries[0]?.content).toEqual(Buffer.alloc(700, 7));
  });

  it('counts the bytes actually read against the limit of the whole tree', async () => {
    await writeFile(path.join(root, 'a.bin'), Buffer.alloc(600, 1));
    await writeFile(path.join(root, 'grows.bin'), Buffer.alloc(600, 2));
    understated.name = 'grows.bin';
    await expect(snapshotFolder(root, { prefix: '', maxBytes: 1024 })).rejects.toMatchObject({
      code: 'SKILL_FILES_INVALID',
    });
  });

  it('refuses a skill folder nested more than 32 levels deep, naming the limit', async () => {
    const skillsDir = path.join(root, 'skills');
    let deepest = path.join(skillsDir, 'deep');
    for (let level = 0; level < 33; level += 1) deepest = path.join(deepest, 'd');
    await mkdir(deepest, { recursive: true });
    await expect(readSkillFiles(skillsDir, 'deep')).rejects.toMatchObject({
      code: 'SKILL_FILES_INVALID',
      message: expect.stringContaining('32 levels'),
    });
  });

  it('takes a skill folder nested exactly 32 levels deep', async () => {
    const skillsDir = path.join(root, 'skills');
    let deepest = path.join(skillsDir, 'deep');
    for (let level = 0; level < 32; level += 1) deepest = path.join(deepest, 'd');
    await mkdir(deepest, { recursive: true });
    await writeFile(path.join(deepest, 'leaf.txt'), 'leaf\n');
    const snapshot = await new SkillSnapshots({ dataDir: path.join(root, 'data') }).prepare(
      skillsDir,
      'deep',
    );
    const copied = path.join(snapshot, ...Array.from({ length: 32 }, () => 'd'), 'leaf.txt');
    expect(await readFile(copied, 'utf8')).toBe('leaf\n');
  });

  it('refuses a skill folder of more than 10,000 entries, naming the limit', async () => {
    const skillsDir = path.join(root, 'skills');
    const many = path.join(skillsDir, 'many');
    await mkdir(path.join(many, 'sub'), { recursive: true });
    // 10,000 files in a subfolder plus the subfolder itself: one entry over.
    await Promise.all(
      Array.from({ length: 10_000 }, (_, index) => writeFile(path.join(many, 'sub', `f${index}`), '')),
    );
    await expect(readSkillFiles(skillsDir, 'many')).rejects.toMatchObject({
      code: 'SKILL_FILES_INVALID',
      message: expect.stringContaining('10000 entries'),
    });
  });
});

describe('readAtMost', () => {
  /** A file that never ends (an author appending faster than it is read), counting what was asked of it. */
  function endlessFile() {
    const asked = { bytes: 0 };
    return {
      asked,
      file: {
        read: async <T extends NodeJS.ArrayBufferView>(buffer: T, offset = 0, length = 0) => {
          asked.bytes += length;
          (buffer as unknown as Buffer).fill(1, offset, offset + length);
          return { bytesRead: length, buffer };
        },
      },
    };
  }

  it('stops one byte past the limit of a file that keeps growing, whatever its size said', async () => {
    const { file, asked } = endlessFile();
    expect(await readAtMost(file as never, 1000, 10)).toBeNull();
    expect(asked.bytes).toBe(1001);
  });

  it('returns a file of exactly the limit whole', async () => {
    let left = 1000;
    const file = {
      read: async (buffer: Buffer, offset: number, length: number) => {
        const bytesRead = Math.min(length, left);
        buffer.fill(2, offset, offset + bytesRead);
        left -= bytesRead;
        return { bytesRead, buffer };
      },
    };
    expect(await readAtMost(file as never, 1000, 1000)).toEqual(Buffer.alloc(1000, 2));
  });
});
