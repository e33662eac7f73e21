import { readdirSync } from 'node:fs';
import {
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rm,
  stat,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import type * as crypto from 'node:crypto';
import { randomInt } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type * as atomicWrite from '../../../src/fs/atomic-write.js';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

// The temp name's number, made predictable so a test can put something in its way.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof crypto>();
  return { ...actual, randomInt: vi.fn(actual.randomInt) };
});

let writeFileAtomic: typeof atomicWrite.writeFileAtomic;
let dir: string;

beforeAll(async () => {
  // The test setup has loaded the writer already, with the real node:crypto: load it afresh.
  vi.resetModules();
  ({ writeFileAtomic } = await import('../../../src/fs/atomic-write.js'));
});

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-atomic-temp-'));
});

afterEach(async () => {
  vi.mocked(randomInt).mockReset();
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

function nextTempNumbers(...numbers: number[]): void {
  for (const number of numbers) vi.mocked(randomInt).mockReturnValueOnce(number as never);
}

describe('writeFileAtomic temp files', () => {
  it('are named <file>.<number>, which the stale-temp clean-up looks for', async () => {
    const file = path.join(dir, 'github.json');
    nextTempNumbers(4242);
    // The temp file's fsync is the first: the folder holds the temp file then.
    const probe = await open(dir, 'r');
    const prototype = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    const original = prototype.sync;
    const during: string[][] = [];
    vi.spyOn(prototype, 'sync').mockImplementation(async function (this: FileHandle) {
      during.push(readdirSync(dir).sort());
      return original.call(this);
    });
    await writeFileAtomic(file, 'token', { mode: 0o640 });
    expect(during[0]).toEqual(['github.json.4242']);
    expect(await readdir(dir)).toEqual(['github.json']);
  });

  it('leave alone whatever already holds the temp name, and take another', async () => {
    const file = path.join(dir, 'github.json');
    await writeFile(file, 'old token');
    // A folder, and a killed writer's leftover, at the first two names tried.
    await mkdir(path.join(dir, 'github.json.1'));
    await writeFile(path.join(dir, 'github.json.2'), 'leftover');
    nextTempNumbers(1, 2, 3);
    await writeFileAtomic(file, 'new token', { mode: 0o640 });
    expect(await readFile(file, 'utf8')).toBe('new token');
    expect((await stat(path.join(dir, 'github.json.1'))).isDirectory()).toBe(true);
    expect(await readFile(path.join(dir, 'github.json.2'), 'utf8')).toBe('leftover');
    expect((await readdir(dir)).sort()).toEqual(['github.json', 'github.json.1', 'github.json.2']);
  });

  it('fail the write, old file untouched, when every name tried is taken', async () => {
    const file = path.join(dir, 'github.json');
    await writeFile(file, 'old token');
    await mkdir(path.join(dir, 'github.json.7'));
    nextTempNumbers(7, 7, 7, 7, 7);
    await expect(writeFileAtomic(file, 'new token', { mode: 0o640 })).rejects.toMatchObject({
      code: 'EEXIST',
    });
    expect(await readFile(file, 'utf8')).toBe('old token');
    expect((await readdir(dir)).sort()).toEqual(['github.json', 'github.json.7']);
    expect((await stat(path.join(dir, 'github.json.7'))).isDirectory()).toBe(true);
  });
});
