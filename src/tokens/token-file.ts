import type { ProviderConfig } from '../config/types.js';
import type { SourceToken } from '../sources/token-source.js';

/**
 * What a skill reads at /workspace/tokens/<provider>.json. The contract in DESIGN.md; the refresh
 * token is absent unless the provider opts in with `exposeRefreshToken`.
 */
export interface TokenFile {
  provider: string;
  access_token: string;
  token_type: string;
  expires_at: string | null;
  scopes: string[];
  synced_at: string;
  refresh_token?: string;
}

/** Maps what a source handed over to the file a skill may see. */
export function buildTokenFile(provider: ProviderConfig, token: SourceToken, syncedAt: Date): TokenFile {
  const file: TokenFile = {
    provider: provider.name,
    access_token: token.accessToken,
    token_type: token.tokenType,
    expires_at: token.expiresAt ? token.expiresAt.toISOString() : null,
    scopes: token.scopes ?? provider.scopes,
    synced_at: syncedAt.toISOString(),
  };
  if (provider.exposeRefreshToken && token.refreshToken) file.refresh_token = token.refreshToken;
  return file;
}

/** Same token, whatever the sync time: such a file is not rewritten. */
export function isSameToken(a: TokenFile, b: TokenFile): boolean {
  return (
    a.provider === b.provider &&
    a.access_token === b.access_token &&
    a.token_type === b.token_type &&
    a.expires_at === b.expires_at &&
    a.refresh_token === b.refresh_token &&
    a.scopes.length === b.scopes.length &&
    a.scopes.every((scope, index) => scope === b.scopes[index])
  );
}

export function serializeTokenFile(file: TokenFile): string {
  return `${JSON.stringify(file, null, 2)}\n`;
}

export class TokenFileFormatError extends Error {
  override name = 'TokenFileFormatError';
}

/** Parses a token file from disk; a file someone edited by hand may be anything. */
export function parseTokenFile(text: string): TokenFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TokenFileFormatError('not valid JSON');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new TokenFileFormatError('expected a JSON object');
  const record = value as Record<string, unknown>;
  const text_ = (field: string) => {
    if (typeof record[field] !== 'string' || record[field] === '')
      throw new TokenFileFormatError(`${field}: expected a string`);
    return record[field] as string;
  };
  const time = (field: string, nullable: boolean) => {
    const raw = record[field];
    if (raw === null && nullable) return null;
    if (typeof raw !== 'string' || Number.isNaN(Date.parse(raw))) {
      throw new TokenFileFormatError(`${field}: expected an ISO 8601 time${nullable ? ' or null' : ''}`);
    }
    return raw;
  };
  const scopes = record.scopes;
  if (!Array.isArray(scopes) || !scopes.every((scope) => typeof scope === 'string')) {
    throw new TokenFileFormatError('scopes: expected an array of strings');
  }
  const file: TokenFile = {
    provider: text_('provider'),
    access_token: text_('access_token'),
    token_type: text_('token_type'),
    expires_at: time('expires_at', true),
    scopes: scopes as string[],
    synced_at: time('synced_at', false)!,
  };
  if (typeof record.refresh_token === 'string') file.refresh_token = record.refresh_token;
  return file;
}
