import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TokenFolder } from '../../../src/tokens/token-folder.js';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'nanoclaw-owner-dir-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('TokenFolder.ensureOwnerDir', () => {
  it('refuses a symlink standing in for an owner folder: Docker would mount what it points at', async () => {
    const folder = new TokenFolder(path.join(root, 'tokens'));
    const elsewhere = path.join(root, 'elsewhere');
    await mkdir(elsewhere);
    await mkdir(folder.root);
    await symlink(elsewhere, path.join(folder.root, 'alice'));
    await expect(folder.ensureOwnerDir('alice')).rejects.toMatchObject({ code: 'TOKEN_FOLDER_INVALID' });
  });

  it('refuses a file standing in for an owner folder, and accepts a real folder', async () => {
    const folder = new TokenFolder(path.join(root, 'tokens'));
    await mkdir(folder.root);
    await writeFile(path.join(folder.root, 'bob'), 'not a folder');
    await expect(folder.ensureOwnerDir('bob')).rejects.toMatchObject({ code: 'TOKEN_FOLDER_INVALID' });
    await expect(folder.ensureOwnerDir('carol')).resolves.toBe(path.join(folder.root, 'carol'));
    await expect(folder.ensureOwnerDir('carol')).resolves.toBe(path.join(folder.root, 'carol'));
  });
});
