import { readFile } from 'node:fs/promises';

/**
 * The package's version, read when asked: from src/cli/ and from the bundle in dist/bin/ alike, the
 * package.json is two folders up.
 */
export async function packageVersion(): Promise<string> {
  const manifest = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: unknown;
  };
  return typeof manifest.version === 'string' ? manifest.version : 'unknown';
}
