import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateApiToken } from '../../../src/web/auth/api-token.js';
import { mountTinyFilesystem, type TinyFilesystem } from '../../support/fault-tmpfs.js';

const mounted = await mountTinyFilesystem(256);

describe.skipIf(!mounted.available)('the API token on a full disk', () => {
  let fs: TinyFilesystem;
  beforeAll(() => {
    if (mounted.available) fs = mounted.fs;
  });
  afterAll(async () => {
    await fs?.unmount();
  });

  it('leaves no file (never a 0-byte one) when the first start cannot write it, and works once there is room', async () => {
    const dataDir = path.join(fs.dir, 'data');
    // The folder first (a full disk can still refuse that), then fill every byte.
    await loadOrCreateApiToken(dataDir, null).then(() => rm(path.join(dataDir, 'api-token')));
    const { file: filler } = fs.fill();

    await expect(loadOrCreateApiToken(dataDir, null)).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(await readdir(dataDir)).toEqual([]);

    await rm(filler);
    const created = await loadOrCreateApiToken(dataDir, null);
    expect(created.origin).toBe('created');
    expect((await loadOrCreateApiToken(dataDir, null)).token).toBe(created.token);
  });
});
