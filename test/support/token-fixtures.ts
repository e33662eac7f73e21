import type { TokenFile } from '../../src/tokens/token-file.js';

/** A valid token file for `github`, with `overrides` applied. */
export function tokenFile(overrides: Partial<TokenFile> = {}): TokenFile {
  return {
    provider: 'github',
    access_token: 'access-1',
    token_type: 'Bearer',
    expires_at: '2030-01-01T10:00:00.000Z',
    scopes: ['repo'],
    synced_at: '2030-01-01T09:00:00.000Z',
    ...overrides,
  };
}

/** Runs `action` with the process's umask set to `mask`, then puts the previous one back. */
export async function withUmask<T>(mask: number, action: () => Promise<T>): Promise<T> {
  const previous = process.umask(mask);
  try {
    return await action();
  } finally {
    process.umask(previous);
  }
}
