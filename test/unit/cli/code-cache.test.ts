import { spawn } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TSX_LOADER } from '../../support/cli.js';

const CODE_CACHE = fileURLToPath(new URL('../../../src/cli/start/code-cache.ts', import.meta.url));

let dir: string;
let bundles: string;
let cacheHome: string;
let entries: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-code-cache-'));
  bundles = path.join(dir, 'bin');
  cacheHome = path.join(dir, 'cache');
  entries = path.join(cacheHome, 'nanoclaw', 'v8');
  await mkdir(bundles);
  await writeFile(
    path.join(dir, 'load.mts'),
    `import { createRequire } from 'node:module';\n` +
      `import { useCodeCache } from ${JSON.stringify(CODE_CACHE)};\n` +
      `useCodeCache(process.argv[2], process.env);\n` +
      `console.log(JSON.stringify(createRequire(import.meta.url)(process.argv[3])));\n`,
  );
  await writeBundle('a.cjs', 'module.exports = { answer: [1, 2, 3].map((n) => n * 2) };\n');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeBundle(name: string, source: string): Promise<string> {
  const file = path.join(bundles, name);
  await writeFile(file, source);
  return file;
}

/** Loads `file` in a new Node process with the code cache for the bundle folder on. */
function load(file: string, env: Record<string, string> = { XDG_CACHE_HOME: cacheHome }): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', TSX_LOADER, path.join(dir, 'load.mts'), bundles, file],
      { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 && err === '' ? resolve(JSON.parse(out)) : reject(new Error(`exit ${code}: ${err}`)),
    );
  });
}

const entryNames = async () => (await readdir(entries)).filter((name) => name.endsWith('.v8'));

describe('the code cache of the built CLI', () => {
  it('keeps what V8 compiled for a bundle, and the next process takes it as it is', async () => {
    const file = path.join(bundles, 'a.cjs');
    expect(await load(file)).toEqual({ answer: [2, 4, 6] });
    const [entry] = await entryNames();
    expect(entry).toMatch(/^a-.*\.v8$/);
    expect((await stat(path.join(entries, entry!))).mode & 0o777).toBe(0o600);
    expect((await lstat(entries)).mode & 0o777).toBe(0o700);
    const first = await stat(path.join(entries, entry!));

    expect(await load(file)).toEqual({ answer: [2, 4, 6] });
    // Accepted by V8: not written again (a refused entry is replaced by a new file).
    expect(await entryNames()).toEqual([entry]);
    const second = await stat(path.join(entries, entry!));
    expect([second.ino, second.mtimeMs]).toEqual([first.ino, first.mtimeMs]);
  });

  it('an edited bundle runs as edited, with a new entry in place of the old one', async () => {
    const file = path.join(bundles, 'a.cjs');
    await load(file);
    const [before] = await entryNames();
    // The same length as before: only the file's times and inode tell the versions apart.
    await rm(file);
    await writeBundle('a.cjs', 'module.exports = { answer: [1, 2, 3].map((n) => n * 3) };\n');
    expect(await load(file)).toEqual({ answer: [3, 6, 9] });
    const after = await entryNames();
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before);
  });

  it('a damaged entry is refused and replaced; the file still runs', async () => {
    const file = path.join(bundles, 'a.cjs');
    await load(file);
    const [entry] = await entryNames();
    await writeFile(path.join(entries, entry!), Buffer.alloc(64, 7));
    expect(await load(file)).toEqual({ answer: [2, 4, 6] });
    expect((await stat(path.join(entries, entry!))).size).not.toBe(64);
  });

  it('files outside the bundle folder compile as usual', async () => {
    const outside = path.join(dir, 'outside.cjs');
    await writeFile(outside, 'module.exports = 42;\n');
    expect(await load(outside)).toBe(42);
    expect(await entryNames()).toEqual([]);
  });

  it('a cache folder others may write to, or one that is not a folder, is never used', async () => {
    const file = path.join(bundles, 'a.cjs');
    await mkdir(entries, { recursive: true });
    await chmod(entries, 0o777);
    expect(await load(file)).toEqual({ answer: [2, 4, 6] });
    expect(await entryNames()).toEqual([]);

    const notAFolder = path.join(dir, 'not-a-folder');
    await writeFile(notAFolder, '');
    expect(await load(file, { XDG_CACHE_HOME: notAFolder })).toEqual({ answer: [2, 4, 6] });
  });
});
