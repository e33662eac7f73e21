import { mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readTextFile } from '../../../src/fs/read-text-file.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-read-text-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readTextFile', () => {
  it('returns the text and the modification time of the file', async () => {
    const file = path.join(dir, 'token.json');
    const text = `${'{"access_token":"é"}'.repeat(5000)}\n`;
    await writeFile(file, text);
    const modified = new Date('2031-02-03T04:05:06.789Z');
    await utimes(file, modified, modified);
    const read = await readTextFile(file);
    expect(read.text).toBe(text);
    expect(read.modifiedAt).toEqual((await stat(file)).mtime);
    expect(read.modifiedAt).toEqual(modified);
  });

  it('reads an empty file as empty', async () => {
    const file = path.join(dir, 'empty.json');
    await writeFile(file, '');
    expect((await readTextFile(file)).text).toBe('');
  });

  it('fails as readFile does on a missing path and on a folder', async () => {
    await expect(readTextFile(path.join(dir, 'missing.json'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(readTextFile(dir)).rejects.toMatchObject({ code: 'EISDIR' });
  });
});
