import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describeError } from '../../errors.js';
import { isProviderName } from '../../names.js';
import { CredentialStore } from '../../sources/builtin/credential-store.js';
import { fail, ok, type CheckResult } from '../check-result.js';
import { lstatOrNull } from '../file-modes.js';

export interface BuiltinKeyInput {
  dataDir: string;
  /** NANOCLAW_ENCRYPTION_KEY; null means the key file. Never shown. */
  encryptionKey: string | null;
}

const NAME = 'builtin-key';

/** Grant files as the store lays them out: `grants/<owner>/<provider>.json`. */
async function listGrants(grantsDir: string): Promise<Array<{ owner: string; provider: string }>> {
  const grants: Array<{ owner: string; provider: string }> = [];
  const owners = await readdir(grantsDir, { withFileTypes: true }).catch(() => []);
  for (const owner of owners.filter((entry) => entry.isDirectory())) {
    for (const file of await readdir(path.join(grantsDir, owner.name))) {
      const provider = file.endsWith('.json') ? file.slice(0, -'.json'.length) : '';
      if (isProviderName(provider)) grants.push({ owner: owner.name, provider });
    }
  }
  return grants;
}

/**
 * The built-in store's key is well formed and opens every stored grant. Never creates the key file
 * (the daemon does, on first start) and never shows a key or a token.
 */
export async function checkBuiltinKey(input: BuiltinKeyInput): Promise<CheckResult> {
  const store = CredentialStore.inDataDir(input.dataDir, input.encryptionKey);
  const origin = input.encryptionKey !== null ? 'NANOCLAW_ENCRYPTION_KEY' : store.keyFile;
  if (input.encryptionKey === null && (await lstatOrNull(store.keyFile)) === null) {
    return ok(NAME, `no key yet: the daemon creates ${store.keyFile} (0600) on first start`);
  }
  try {
    await store.open();
  } catch (error) {
    return fail(
      NAME,
      describeError(error).message,
      input.encryptionKey !== null
        ? 'set NANOCLAW_ENCRYPTION_KEY to the key the store was written with, or a new one (openssl rand -base64 32) for an empty store'
        : `restore ${store.keyFile} (chmod 600), or set NANOCLAW_ENCRYPTION_KEY`,
    );
  }
  const grants = await listGrants(path.join(store.dir, 'grants'));
  const unreadable: string[] = [];
  for (const grant of grants) {
    try {
      await store.read(grant.owner, grant.provider);
    } catch (error) {
      unreadable.push(describeError(error).message);
    }
  }
  if (unreadable.length > 0) {
    return fail(
      NAME,
      `${unreadable.length} of ${grants.length} stored grants cannot be read: ${unreadable.join('; ')}`,
      `use the key the grants were written with (${origin}); restore a damaged file, or connect the provider again`,
    );
  }
  return ok(
    NAME,
    `the key (${origin}) is valid and opens ${grants.length} stored ${grants.length === 1 ? 'grant' : 'grants'}`,
  );
}
