import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTarArchive } from '../../../src/sandbox/tar-archive.js';

const run = promisify(execFile);
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-tar-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('createTarArchive', () => {
  it('writes an archive that GNU tar extracts: folders, files, modes and long paths', async () => {
    const longFolder = `skills/${'a'.repeat(90)}/${'b'.repeat(40)}`;
    const archive = createTarArchive([
      { path: 'Dockerfile.skill', mode: 0o644, content: Buffer.from('FROM scratch\n') },
      { path: 'skills', mode: 0o755, content: null },
      { path: 'skills/hello/', mode: 0o755, content: null },
      { path: 'skills/hello/main.py', mode: 0o755, content: Buffer.alloc(1500, 0x78) },
      { path: 'skills/hello/empty.txt', mode: 0o644, content: Buffer.alloc(0) },
      { path: `${longFolder}/`, mode: 0o755, content: null },
      { path: `${longFolder}/file.txt`, mode: 0o600, content: Buffer.from('deep') },
    ]);
    expect(archive.length % 512).toBe(0);
    await writeFile(path.join(dir, 'context.tar'), archive);
    await run('tar', ['-xf', 'context.tar'], { cwd: dir });

    expect(await readFile(path.join(dir, 'Dockerfile.skill'), 'utf8')).toBe('FROM scratch\n');
    expect(await readFile(path.join(dir, 'skills/hello/main.py'), 'utf8')).toBe('x'.repeat(1500));
    expect(await readFile(path.join(dir, 'skills/hello/empty.txt'), 'utf8')).toBe('');
    expect((await stat(path.join(dir, 'skills/hello/main.py'))).mode & 0o777).toBe(0o755);
    expect(await readFile(path.join(dir, longFolder, 'file.txt'), 'utf8')).toBe('deep');
  });

  it('refuses a path that ustar cannot hold', () => {
    expect(() =>
      createTarArchive([{ path: 'x'.repeat(300), mode: 0o644, content: Buffer.from('') }]),
    ).toThrow(/path too long/);
  });
});
