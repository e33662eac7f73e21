import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadEncryptionKey, parseEncryptionKey } from '../../../../src/sources/builtin/encryption-key.js';

describe('parseEncryptionKey', () => {
  it('reads 32 bytes of base64 or base64url', () => {
    const key = randomBytes(32);
    expect(parseEncryptionKey(key.toString('base64'), 'K')).toEqual(key);
    expect(parseEncryptionKey(` ${key.toString('base64url')}\n`, 'K')).toEqual(key);
  });

  it('says what is wrong without echoing the value', () => {
    const short = randomBytes(31).toString('base64');
    expect(() => parseEncryptionKey(short, 'NANOCLAW_ENCRYPTION_KEY')).toThrow(
      'NANOCLAW_ENCRYPTION_KEY: expected 32 bytes in base64, got 31 (create one with "openssl rand -base64 32")',
    );
    for (const bad of ['', 'not base64 at all!', 'abc=def']) {
      expect(() => parseEncryptionKey(bad, 'K')).toThrow(
        expect.objectContaining({
          code: 'ENCRYPTION_KEY_INVALID',
          message: expect.not.stringContaining(bad || '\u0000'),
        }),
      );
    }
  });
});

describe('loadEncryptionKey', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-key-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('creates the key file once, mode 0600, and every later load (or racing load) uses it', async () => {
    const keyFile = path.join(dir, 'builtin', 'key');
    const [first, second] = await Promise.all([
      loadEncryptionKey({ configured: null, keyFile }),
      loadEncryptionKey({ configured: null, keyFile }),
    ]);
    expect(first.keyId).toBe(second.keyId);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(keyFile))).mode & 0o777).toBe(0o700);
    expect((await loadEncryptionKey({ configured: null, keyFile })).keyId).toBe(first.keyId);
    expect(parseEncryptionKey(await readFile(keyFile, 'utf8'), keyFile)).toHaveLength(32);
  });

  it('prefers the configured key and never writes a key file for it', async () => {
    const keyFile = path.join(dir, 'key');
    const configured = randomBytes(32).toString('base64');
    await loadEncryptionKey({ configured, keyFile });
    await expect(stat(keyFile)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a damaged key file instead of replacing it', async () => {
    const keyFile = path.join(dir, 'key');
    await writeFile(keyFile, 'garbage', { mode: 0o600 });
    await expect(loadEncryptionKey({ configured: null, keyFile })).rejects.toMatchObject({
      code: 'ENCRYPTION_KEY_INVALID',
    });
    expect(await readFile(keyFile, 'utf8')).toBe('garbage');
  });
});
