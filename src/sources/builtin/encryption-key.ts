import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { EncryptionKeyError } from './builtin-errors.js';
import { KEY_BYTES, SecretBox } from './secret-box.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Reads a key given as base64 (or base64url) of 32 random bytes. The error names where the key came
 * from and what is wrong with it, never the value.
 */
export function parseEncryptionKey(text: string, origin: string): Buffer {
  const value = text.trim();
  const encoding = BASE64.test(value) ? 'base64' : BASE64URL.test(value) ? 'base64url' : null;
  if (value === '' || encoding === null) {
    throw new EncryptionKeyError(
      `${origin}: expected ${KEY_BYTES} random bytes in base64 (create one with "openssl rand -base64 32")`,
    );
  }
  const key = Buffer.from(value, encoding);
  if (key.length !== KEY_BYTES) {
    throw new EncryptionKeyError(
      `${origin}: expected ${KEY_BYTES} bytes in base64, got ${key.length} (create one with "openssl rand -base64 32")`,
    );
  }
  return key;
}

export interface LoadEncryptionKeyOptions {
  /** `NANOCLAW_ENCRYPTION_KEY` (or `builtin.encryptionKey`), which wins over the key file. */
  configured: string | null;
  /** Used, and created with mode 0600 on first start, when no key is configured. */
  keyFile: string;
}

/** The store's key: the configured one, else the key file, created on first use. */
export async function loadEncryptionKey(options: LoadEncryptionKeyOptions): Promise<SecretBox> {
  if (options.configured !== null) {
    return new SecretBox(parseEncryptionKey(options.configured, 'NANOCLAW_ENCRYPTION_KEY'));
  }
  const existing = await readKeyFile(options.keyFile);
  if (existing) return new SecretBox(existing);
  return new SecretBox(await createKeyFile(options.keyFile));
}

async function readKeyFile(keyFile: string): Promise<Buffer | null> {
  let mode: number;
  try {
    mode = (await stat(keyFile)).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new EncryptionKeyError(`cannot read the key file ${keyFile}`, { cause: error });
  }
  // Like ssh with private keys: a key others can read is not a secret any more.
  if ((mode & 0o077) !== 0) {
    throw new EncryptionKeyError(
      `the key file ${keyFile} is readable by others (mode ${(mode & 0o777).toString(8)}): run "chmod 600 ${keyFile}"`,
    );
  }
  return parseEncryptionKey(await readFile(keyFile, 'utf8'), keyFile);
}

/**
 * Writes a new key to a private temporary file and links it into place: the link is atomic and fails
 * when another process created the key first, in which case that key is the one to use.
 */
async function createKeyFile(keyFile: string): Promise<Buffer> {
  await mkdir(path.dirname(keyFile), { recursive: true, mode: 0o700 });
  const key = randomBytes(KEY_BYTES);
  const temporary = `${keyFile}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(`${key.toString('base64')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temporary, keyFile);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const winner = await readKeyFile(keyFile);
    if (!winner) throw error;
    return winner;
  } finally {
    await unlink(temporary).catch(() => {});
  }
}
