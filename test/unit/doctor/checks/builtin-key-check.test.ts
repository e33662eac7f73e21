import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkBuiltinKey } from '../../../../src/doctor/checks/builtin-key-check.js';
import { CredentialStore } from '../../../../src/sources/builtin/credential-store.js';
import { lstatOrNull } from '../../../../src/doctor/file-modes.js';

const ACCESS_TOKEN = 'access-token-81c2-never-print-me';
let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'nanoclaw-doctor-key-'));
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const newKey = () => randomBytes(32).toString('base64');

async function storeGrant(key: string | null): Promise<void> {
  const now = new Date();
  await CredentialStore.inDataDir(dataDir, key).write({
    owner: 'main',
    provider: 'acme',
    status: 'active',
    accessToken: ACCESS_TOKEN,
    refreshToken: null,
    tokenType: 'Bearer',
    expiresAt: null,
    scopes: null,
    authorizedAt: now,
    obtainedAt: now,
    lastRefreshedAt: null,
    generation: 1,
    needsAuth: null,
  });
}

describe('checkBuiltinKey', () => {
  it('passes before the first start without creating the key file', async () => {
    const result = await checkBuiltinKey({ dataDir, encryptionKey: null });
    expect(result).toMatchObject({ name: 'builtin-key', status: 'ok' });
    expect(await lstatOrNull(path.join(dataDir, 'builtin', 'key'))).toBeNull();
  });

  it('passes when the key opens every stored grant', async () => {
    const key = newKey();
    await storeGrant(key);
    const result = await checkBuiltinKey({ dataDir, encryptionKey: key });
    expect(result).toMatchObject({
      status: 'ok',
      message: 'the key (NANOCLAW_ENCRYPTION_KEY) is valid and opens 1 stored grant',
    });
    expect(JSON.stringify(result)).not.toContain(key);
  });

  it('fails when the key is not 32 bytes of base64, without showing it', async () => {
    const result = await checkBuiltinKey({ dataDir, encryptionKey: 'hunter2-not-a-key!' });
    expect(result.status).toBe('fail');
    expect(result.message).toContain('NANOCLAW_ENCRYPTION_KEY: expected 32 random bytes');
    expect(JSON.stringify(result)).not.toContain('hunter2');
  });

  it('fails when the grants were written with another key', async () => {
    await storeGrant(newKey());
    const other = newKey();
    const result = await checkBuiltinKey({ dataDir, encryptionKey: other });
    expect(result.status).toBe('fail');
    expect(result.message).toMatch(/^1 of 1 stored grants cannot be read: .*encrypted with another key/);
    expect(result.fix).toContain('NANOCLAW_ENCRYPTION_KEY');
    expect(JSON.stringify(result)).not.toContain(ACCESS_TOKEN);
    expect(JSON.stringify(result)).not.toContain(other);
  });

  it('fails for a key file others can read, with the chmod', async () => {
    const keyFile = path.join(dataDir, 'builtin', 'key');
    await mkdir(path.dirname(keyFile), { recursive: true });
    await writeFile(keyFile, `${newKey()}\n`);
    await chmod(keyFile, 0o644);
    const result = await checkBuiltinKey({ dataDir, encryptionKey: null });
    expect(result.status).toBe('fail');
    expect(result.message).toContain(`chmod 600 ${keyFile}`);
  });

  it('opens grants with the key file the daemon created', async () => {
    await storeGrant(null);
    const result = await checkBuiltinKey({ dataDir, encryptionKey: null });
    expect(result).toMatchObject({ status: 'ok' });
    expect(result.message).toContain(path.join(dataDir, 'builtin', 'key'));
  });
});
