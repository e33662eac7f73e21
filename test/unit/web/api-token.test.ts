import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { loadOrCreateApiToken } from '../../../src/web/auth/api-token.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'nanoclaw-token-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadOrCreateApiToken', () => {
  it('creates 32 random bytes, base64url, in a 0600 file, then reads the same one back', async () => {
    const dataDir = path.join(dir, 'data');
    const created = await loadOrCreateApiToken(dataDir, null);
    expect(created.origin).toBe('created');
    expect(Buffer.from(created.token, 'base64url')).toHaveLength(32);
    expect((await stat(created.file!)).mode & 0o777).toBe(0o600);
    const again = await loadOrCreateApiToken(dataDir, null);
    expect(again).toEqual({ token: created.token, origin: 'file', file: created.file });
  });

  it('tightens a token file others could read', async () => {
    const file = path.join(dir, 'api-token');
    await writeFile(file, 'a-token-someone-wrote-by-hand\n');
    await chmod(file, 0o644);
    const loaded = await loadOrCreateApiToken(dir, null);
    expect(loaded.token).toBe('a-token-someone-wrote-by-hand');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('refuses short tokens, from the file or the environment, without printing them', async () => {
    await writeFile(path.join(dir, 'api-token'), 'short\n', { mode: 0o600 });
    await expect(loadOrCreateApiToken(dir, null)).rejects.toBeInstanceOf(ConfigError);
    const error = await loadOrCreateApiToken(dir, 'tiny').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect(JSON.stringify(error) + String(error)).not.toContain('tiny');
    expect((await readFile(path.join(dir, 'api-token'), 'utf8')).trim()).toBe('short');
  });

  it('takes NANOCLAW_API_TOKEN without touching the data folder', async () => {
    const loaded = await loadOrCreateApiToken(path.join(dir, 'untouched'), 'a-long-enough-token-from-env');
    expect(loaded).toEqual({ token: 'a-long-enough-token-from-env', origin: 'environment', file: null });
    await expect(stat(path.join(dir, 'untouched'))).rejects.toThrow();
  });
});
