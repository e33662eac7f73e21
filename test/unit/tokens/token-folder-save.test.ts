import {
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  type FileHandle,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { serializeTokenFile } from '../../../src/tokens/token-file.js';
import { TokenFolder } from '../../../src/tokens/token-folder.js';
import { tokenFile, withUmask } from '../../support/token-fixtures.js';

const isRoot = process.getuid?.() === 0;
const TOKEN_GROUP = 10001;

let base: string;
let folder: TokenFolder;

beforeEach(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-folder-save-'));
  folder = new TokenFolder(path.join(base, 'tokens'));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(base, { recursive: true, force: true });
});

describe('TokenFolder.save returns what a read right after it says', () => {
  it('for a new token, and for a changed one', async () => {
    const first = await folder.save('alice', tokenFile({ synced_at: new Date().toISOString() }), new Date());
    expect(first.outcome).toBe('written');
    expect(first.stored).toEqual(await folder.read('alice', 'github'));

    // A sync time in the future: the later of it and the modification time is the last check.
    const second = await folder.save('alice', tokenFile({ access_token: 'access-2' }), new Date());
    expect(second.outcome).toBe('written');
    expect(second.stored).toEqual(await folder.read('alice', 'github'));
    expect(second.stored.checkedAt).toEqual(new Date('2030-01-01T09:00:00.000Z'));
  });

  it('for an identical token, whose modification time moves to the check', async () => {
    await folder.save('alice', tokenFile({ synced_at: '2020-01-01T00:00:00.000Z' }), new Date());
    const checkedAt = new Date(Date.now() + 60_000);
    const again = await folder.save('alice', tokenFile({ synced_at: checkedAt.toISOString() }), checkedAt);
    expect(again.outcome).toBe('unchanged');
    expect(again.stored).toEqual(await folder.read('alice', 'github'));
    expect(again.stored.checkedAt).toEqual(checkedAt);
    // The file on disk keeps its own sync time.
    expect(again.stored.file.synced_at).toBe('2020-01-01T00:00:00.000Z');
  });
});

describe('TokenFolder.write keeps its guarantees', () => {
  it.each([0o077, 0o000])(
    'gives folder 0750 and file 0640 under umask %o, also on a rewrite',
    async (mask) => {
      await withUmask(mask, async () => {
        await folder.write('alice', tokenFile(), new Date());
        await folder.write('alice', tokenFile({ access_token: 'access-2' }), new Date());
      });
      expect((await stat(folder.ownerDir('alice'))).mode & 0o7777).toBe(0o750);
      expect((await stat(folder.filePath('alice', 'github'))).mode & 0o7777).toBe(0o640);
    },
  );

  it.skipIf(!isRoot)('gives folder and file the token group under umask 077, also on a rewrite', async () => {
    const grouped = new TokenFolder(folder.root, { group: TOKEN_GROUP });
    await withUmask(0o077, async () => {
      await grouped.write('alice', tokenFile(), new Date());
      await grouped.write('alice', tokenFile({ access_token: 'access-2' }), new Date());
    });
    const dirInfo = await stat(grouped.ownerDir('alice'));
    const fileInfo = await stat(grouped.filePath('alice', 'github'));
    expect([dirInfo.gid, dirInfo.mode & 0o7777]).toEqual([TOKEN_GROUP, 0o750]);
    expect([fileInfo.gid, fileInfo.mode & 0o7777]).toEqual([TOKEN_GROUP, 0o640]);
  });

  it('refuses a symlinked owner folder and writes nothing where it points', async () => {
    const elsewhere = path.join(base, 'elsewhere');
    await mkdir(elsewhere);
    await mkdir(folder.root);
    await symlink(elsewhere, folder.ownerDir('alice'));
    await expect(folder.write('alice', tokenFile(), new Date())).rejects.toMatchObject({
      code: 'TOKEN_FOLDER_INVALID',
    });
    expect(await readdir(elsewhere)).toEqual([]);
  });

  it('leaves the old file, and no temp file, when the write fails midway (fsync)', async () => {
    await folder.write('alice', tokenFile(), new Date());
    const file = folder.filePath('alice', 'github');
    const before = await readFile(file);
    const probe = await open(base, 'r');
    const prototype = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    vi.spyOn(prototype, 'sync').mockRejectedValueOnce(
      Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }),
    );

    await expect(
      folder.write('alice', tokenFile({ access_token: 'access-2' }), new Date()),
    ).rejects.toMatchObject({
      code: 'TOKEN_WRITE_FAILED',
      message: `cannot write ${file} (EIO)`,
    });
    expect((await readFile(file)).equals(before)).toBe(true);
    expect(await readdir(path.dirname(file))).toEqual(['github.json']);
  });

  it('refuses, leaving no temp file, when a folder stands at the token file', async () => {
    const file = folder.filePath('alice', 'github');
    await mkdir(file, { recursive: true });
    await expect(folder.write('alice', tokenFile(), new Date())).rejects.toMatchObject({
      code: 'TOKEN_READ_FAILED',
    });
    await expect(folder.save('alice', tokenFile(), new Date())).rejects.toMatchObject({
      code: 'TOKEN_READ_FAILED',
    });
    expect(await readdir(path.dirname(file))).toEqual(['github.json']);
    expect((await stat(file)).isDirectory()).toBe(true);
  });

  it('writes the token and reads it back as written', async () => {
    await folder.write('alice', tokenFile(), new Date());
    expect(await readFile(folder.filePath('alice', 'github'), 'utf8')).toBe(serializeTokenFile(tokenFile()));
    expect(await folder.read('alice', 'github')).toMatchObject({ state: 'present', file: tokenFile() });
  });
});
