import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { API_TOKEN_FILE } from '../../src/web/auth/api-token.js';
import { CredentialStore } from '../../src/sources/builtin/credential-store.js';
import { recordSecret } from './secret-scan.js';

/** What {@link recordDataDirSecrets} found in a data folder. */
export interface RecordedDataDirSecrets {
  /** Token files read (`tokens/<owner>/<provider>.json`). */
  tokenFiles: number;
  /** Built-in grants opened. */
  grants: number;
  /** The built-in store's key file was there. */
  key: boolean;
  /** The API token file was there. */
  apiToken: boolean;
  /** Values told to the scan. */
  secrets: number;
}

/**
 * Tells the secret scan about every secret a nanoclaw data folder holds: the tokens of the token
 * files, the built-in source's grants (opened with the folder's key), the key itself and the API
 * token. For folders a child process wrote: the scan's hooks only see writes made in this process.
 * Says what it found, so a test can check the recording is not empty where it expects secrets.
 */
export async function recordDataDirSecrets(
  dataDir: string,
  options: { encryptionKey?: string | null } = {},
): Promise<RecordedDataDirSecrets> {
  const secrets: string[] = [];
  const found: RecordedDataDirSecrets = { tokenFiles: 0, grants: 0, key: false, apiToken: false, secrets: 0 };

  for (const owner of await listDir(path.join(dataDir, 'tokens'))) {
    for (const file of await listDir(path.join(dataDir, 'tokens', owner))) {
      if (!file.endsWith('.json')) continue;
      const text = await readText(path.join(dataDir, 'tokens', owner, file));
      if (text === null) continue;
      let token: { access_token?: unknown; refresh_token?: unknown };
      try {
        token = JSON.parse(text) as typeof token;
      } catch {
        continue;
      }
      found.tokenFiles++;
      for (const value of [token.access_token, token.refresh_token])
        if (typeof value === 'string') secrets.push(value);
    }
  }

  const apiToken = await readText(path.join(dataDir, API_TOKEN_FILE));
  if (apiToken) {
    found.apiToken = true;
    secrets.push(apiToken.trim());
  }

  const store = CredentialStore.inDataDir(dataDir, options.encryptionKey ?? null);
  const key = await readText(store.keyFile);
  if (key) {
    found.key = true;
    secrets.push(key.trim());
  }
  const grantsDir = path.join(store.dir, 'grants');
  for (const owner of await listDir(grantsDir)) {
    for (const file of await listDir(path.join(grantsDir, owner))) {
      if (!file.endsWith('.json')) continue;
      // Opening the store without a key would create one: only read grants sealed with one.
      if (key === null && !options.encryptionKey) continue;
      const grant = await store.read(owner, file.slice(0, -'.json'.length));
      if (grant) found.grants++;
      for (const value of [grant?.accessToken, grant?.refreshToken])
        if (typeof value === 'string') secrets.push(value);
    }
  }

  for (const secret of secrets) recordSecret(secret);
  found.secrets = secrets.length;
  return found;
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

async function readText(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
