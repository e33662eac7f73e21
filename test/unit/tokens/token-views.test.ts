import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serializeTokenFile, type TokenFile } from '../../../src/tokens/token-file.js';
import { TokenFolder } from '../../../src/tokens/token-folder.js';
import { VIEWS_FOLDER, viewKey } from '../../../src/tokens/token-views.js';

let root: string;
let folder: TokenFolder;

function tokenFile(provider: string, accessToken: string): TokenFile {
  return {
    provider,
    access_token: accessToken,
    token_type: 'Bearer',
    expires_at: '2030-01-01T10:00:00.000Z',
    scopes: [],
    synced_at: '2030-01-01T09:00:00.000Z',
  };
}

async function accessTokenIn(view: string, provider: string): Promise<string> {
  return (JSON.parse(await readFile(path.join(view, `${provider}.json`), 'utf8')) as TokenFile).access_token;
}

beforeEach(async () => {
  root = path.join(await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-views-')), 'tokens');
  folder = new TokenFolder(root);
});
afterEach(async () => {
  await rm(path.dirname(root), { recursive: true, force: true });
});

describe('TokenFolder views', () => {
  it("holds only the declared providers' files of one owner", async () => {
    await folder.write('alice', tokenFile('github', 'gh-1'), new Date());
    await folder.write('alice', tokenFile('gmail', 'gm-1'), new Date());
    await folder.write('bob', tokenFile('github', 'bob-gh'), new Date());

    const view = await folder.ensureView('alice', ['github', 'google-calendar']);

    expect(await readdir(view)).toEqual(['github.json']);
    expect(await accessTokenIn(view, 'github')).toBe('gh-1');
    // The same file, not a copy: a later write is the only thing that changes what the view shows.
    expect((await stat(view)).isDirectory()).toBe(true);
    expect((await stat(path.join(view, 'github.json'))).ino).toBe(
      (await stat(folder.filePath('alice', 'github'))).ino,
    );
  });

  it('is one folder per (owner, provider set), whatever the order, and not inside any owner folder', async () => {
    const first = await folder.ensureView('alice', ['github', 'gmail']);
    const second = await folder.ensureView('alice', ['gmail', 'github']);
    const other = await folder.ensureView('alice', ['github']);
    const bobs = await folder.ensureView('bob', ['github', 'gmail']);
    expect(second).toBe(first);
    expect(other).not.toBe(first);
    expect(bobs).not.toBe(first);
    expect(path.relative(folder.ownerDir('alice'), first).startsWith('..')).toBe(true);
    expect(await folder.listOwners()).toEqual(['alice', 'bob']);
  });

  it('shows a token written after the view was made, and a refreshed one in place of the old', async () => {
    const view = await folder.ensureView('alice', ['github']);
    expect(await readdir(view)).toEqual([]);

    await folder.write('alice', tokenFile('github', 'gh-1'), new Date());
    expect(await accessTokenIn(view, 'github')).toBe('gh-1');

    await folder.write('alice', tokenFile('github', 'gh-2'), new Date());
    expect(await accessTokenIn(view, 'github')).toBe('gh-2');
  });

  it('is found on disk by another TokenFolder (another process) writing the same root', async () => {
    const view = await folder.ensureView('alice', ['github']);
    const otherProcess = new TokenFolder(root);
    await otherProcess.write('alice', tokenFile('github', 'from-sync'), new Date());
    expect(await accessTokenIn(view, 'github')).toBe('from-sync');
  });

  it("does not get a provider it does not declare, nor another owner's", async () => {
    const view = await folder.ensureView('alice', ['github']);
    await folder.write('alice', tokenFile('gmail', 'gm-1'), new Date());
    await folder.write('bob', tokenFile('github', 'bob-gh'), new Date());
    expect(await readdir(view)).toEqual([]);
  });

  it('loses a removed (disconnected) provider at once', async () => {
    await folder.write('alice', tokenFile('github', 'gh-1'), new Date());
    await folder.write('alice', tokenFile('gmail', 'gm-1'), new Date());
    const view = await folder.ensureView('alice', ['github', 'gmail']);
    expect(await folder.remove('alice', 'github')).toBe(true);
    expect(await readdir(view)).toEqual(['gmail.json']);
  });

  it('drops a file that was removed while the view was away, when the view is ensured again', async () => {
    await folder.write('alice', tokenFile('github', 'gh-1'), new Date());
    const view = await folder.ensureView('alice', ['github']);
    await rm(folder.filePath('alice', 'github'));
    expect(await folder.ensureView('alice', ['github'])).toBe(view);
    expect(await readdir(view)).toEqual([]);
  });
});

describe('TokenFolder views after a write that did not reach them', () => {
  /** What a writer that died between its rename and linking into the views leaves behind. */
  async function replaceWithoutLinking(owner: string, token: TokenFile): Promise<void> {
    const file = folder.filePath(owner, token.provider);
    await writeFile(`${file}.tmp`, serializeTokenFile(token));
    await rename(`${file}.tmp`, file);
  }

  it('are brought up to date by the next write of the same token (which changes nothing else)', async () => {
    await folder.write('alice', tokenFile('github', 'gh-1'), new Date());
    const view = await folder.ensureView('alice', ['github']);
    const other = await folder.ensureView('alice', ['github', 'gmail']);
    await replaceWithoutLinking('alice', tokenFile('github', 'gh-2'));
    expect(await accessTokenIn(view, 'github')).toBe('gh-1');

    expect(await folder.write('alice', tokenFile('github', 'gh-2'), new Date())).toBe('unchanged');
    expect(await accessTokenIn(view, 'github')).toBe('gh-2');
    expect(await accessTokenIn(other, 'github')).toBe('gh-2');
    expect((await stat(path.join(view, 'github.json'))).ino).toBe(
      (await stat(folder.filePath('alice', 'github'))).ino,
    );
  });

  it('leave an up-to-date view as it is on an unchanged write (the same file, not a new link)', async () => {
    await folder.write('alice', tokenFile('github', 'gh-1'), new Date());
    const view = await folder.ensureView('alice', ['github']);
    const before = await stat(path.join(view, 'github.json'));
    const folderBefore = await stat(view);
    expect(await folder.write('alice', tokenFile('github', 'gh-1'), new Date())).toBe('unchanged');
    expect((await stat(path.join(view, 'github.json'))).ino).toBe(before.ino);
    // A rename into the view would change the view folder.
    expect((await stat(view)).mtimeMs).toBe(folderBefore.mtimeMs);
  });
});

describe('a view whose provider list was left half-written', () => {
  it('gets its list made whole again, and then every write of its providers', async () => {
    const list = path.join(root, VIEWS_FOLDER, 'alice', `${viewKey(['github'])}.providers`);
    await mkdir(path.dirname(list), { recursive: true });
    await writeFile(list, '["git');

    const view = await folder.ensureView('alice', ['github']);
    expect(JSON.parse(await readFile(list, 'utf8'))).toEqual(['github']);
    await folder.write('alice', tokenFile('github', 'gh-1'), new Date());
    expect(await accessTokenIn(view, 'github')).toBe('gh-1');
  });

  it('is never written in place: no temp file is left beside the views', async () => {
    await folder.ensureView('alice', ['github']);
    await folder.ensureView('alice', ['github']);
    expect((await readdir(path.join(root, VIEWS_FOLDER, 'alice'))).sort()).toEqual(
      [viewKey(['github']), `${viewKey(['github'])}.providers`].sort(),
    );
  });
});

describe('TokenFolder.remove', () => {
  it("refuses to follow an owner folder that is a symlink (another owner's files stay)", async () => {
    await folder.write('alice', tokenFile('github', 'gh-1'), new Date());
    await symlink(folder.ownerDir('alice'), folder.ownerDir('eve'));
    await expect(folder.remove('eve', 'github')).rejects.toMatchObject({ code: 'TOKEN_FOLDER_INVALID' });
    expect(JSON.parse(await readFile(folder.filePath('alice', 'github'), 'utf8'))).toMatchObject({
      access_token: 'gh-1',
    });
  });

  it('is false for an owner without a folder', async () => {
    await mkdir(root, { recursive: true });
    await writeFile(path.join(root, 'stray'), serializeTokenFile(tokenFile('github', 'x')));
    expect(await folder.remove('nobody', 'github')).toBe(false);
  });
});
