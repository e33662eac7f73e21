import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../../errors.js';

export const API_TOKEN_FILE = 'api-token';
const API_TOKEN_MODE = 0o600;
/** Shorter tokens could be guessed; the generated ones have 43 characters (32 random bytes). */
const MIN_API_TOKEN_LENGTH = 16;

export interface ApiToken {
  token: string;
  /** Where it came from: NANOCLAW_API_TOKEN, an existing file, or a file made now. */
  origin: 'environment' | 'file' | 'created';
  /** The file holding it, or null when it came from the environment. */
  file: string | null;
}

/** 32 random bytes, base64url. */
export function generateApiToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The local API token: NANOCLAW_API_TOKEN when set, else `<dataDir>/api-token`, created on first start
 * with mode 0600. A file others can read is tightened back to 0600.
 */
export async function loadOrCreateApiToken(dataDir: string, configured: string | null): Promise<ApiToken> {
  if (configured !== null) {
    if (configured.length < MIN_API_TOKEN_LENGTH) {
      throw new ConfigError([`NANOCLAW_API_TOKEN: must be at least ${MIN_API_TOKEN_LENGTH} characters long`]);
    }
    return { token: configured, origin: 'environment', file: null };
  }
  const file = path.join(dataDir, API_TOKEN_FILE);
  await mkdir(dataDir, { recursive: true, mode: 0o750 });
  if (await createTokenFile(file)) return { token: await readToken(file), origin: 'created', file };
  if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, API_TOKEN_MODE);
  return { token: await readToken(file), origin: 'file', file };
}

/**
 * Writes a new token to a private temporary file, then links it into place: the link is atomic, so a
 * full disk or a crash never leaves an empty `api-token` that every later start would refuse. False
 * when another process made the file first (its token is the one to use).
 */
async function createTokenFile(file: string): Promise<boolean> {
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(temporary, 'wx', API_TOKEN_MODE);
    try {
      await handle.writeFile(`${generateApiToken()}\n`);
      await handle.chmod(API_TOKEN_MODE);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(temporary, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temporary).catch(() => {});
  }
}

async function readToken(file: string): Promise<string> {
  const token = (await readFile(file, 'utf8')).trim();
  if (token.length < MIN_API_TOKEN_LENGTH || /\s/.test(token)) {
    throw new ConfigError([
      `${file}: expected one token of at least ${MIN_API_TOKEN_LENGTH} characters (delete the file to make a new one)`,
    ]);
  }
  return token;
}
