import { CredentialStoreError } from './builtin-errors.js';
import { SecretBoxOpenError, type SecretBox } from './secret-box.js';

export type GrantStatus = 'active' | 'needs_auth';

/** One owner's credentials for one provider, as the source works with them (tokens in clear). */
export interface StoredGrant {
  owner: string;
  provider: string;
  status: GrantStatus;
  accessToken: string | null;
  refreshToken: string | null;
  tokenType: string;
  expiresAt: Date | null;
  /** Scopes the provider granted, when it said; null means "as configured". */
  scopes: string[] | null;
  /** When the owner authorized (or the client token was first fetched). */
  authorizedAt: Date;
  /** When the current access token arrived, by whatever grant. */
  obtainedAt: Date;
  lastRefreshedAt: Date | null;
  /** Goes up with every write, so a reader can tell that someone else changed the grant. */
  generation: number;
  /** Why the owner must authorize again; set together with status `needs_auth`. */
  needsAuth: { code: string; reason: string; at: Date } | null;
  /**
   * Set (durably) just before a refresh request is sent and cleared by the write of its answer. Found
   * set, it means the last refresh got no stored answer (the process stopped, or the answer was lost):
   * with a provider that rotates, its refresh token may already be spent. Absent means none.
   */
  refreshSentAt?: Date | null;
}

export const GRANT_FILE_FORMAT = 'nanoclaw-grant/1';

/** Where a ciphertext belongs: a sealed value only opens in the grant and field it was written for. */
function associatedData(owner: string, provider: string, field: string): string {
  return `${GRANT_FILE_FORMAT}\u0000${owner}\u0000${provider}\u0000${field}`;
}

/** The file's text: metadata in clear, tokens sealed with AES-256-GCM. */
export function serializeGrant(grant: StoredGrant, box: SecretBox): string {
  const seal = (field: string, value: string | null) =>
    value === null ? null : box.seal(value, associatedData(grant.owner, grant.provider, field));
  const record = {
    format: GRANT_FILE_FORMAT,
    owner: grant.owner,
    provider: grant.provider,
    status: grant.status,
    token_type: grant.tokenType,
    expires_at: grant.expiresAt?.toISOString() ?? null,
    scopes: grant.scopes,
    authorized_at: grant.authorizedAt.toISOString(),
    obtained_at: grant.obtainedAt.toISOString(),
    last_refreshed_at: grant.lastRefreshedAt?.toISOString() ?? null,
    generation: grant.generation,
    needs_auth: grant.needsAuth && { ...grant.needsAuth, at: grant.needsAuth.at.toISOString() },
    refresh_sent_at: grant.refreshSentAt?.toISOString() ?? null,
    key_id: box.keyId,
    access_token: seal('access_token', grant.accessToken),
    refresh_token: seal('refresh_token', grant.refreshToken),
  };
  return `${JSON.stringify(record, null, 2)}\n`;
}

export interface GrantLocation {
  owner: string;
  provider: string;
  /** For messages: which file. */
  file: string;
}

/**
 * Reads a grant file. Anything unexpected is CREDENTIAL_STORE_UNREADABLE with what is wrong and what
 * to do; a store is never reset because it could not be read.
 */
export function parseGrant(text: string, box: SecretBox, where: GrantLocation): StoredGrant {
  const unreadable = (problem: string, cause?: unknown) =>
    new CredentialStoreError('CREDENTIAL_STORE_UNREADABLE', `${where.file}: ${problem}`, { cause });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw unreadable(
      'not valid JSON; the file is damaged (restore it, or disconnect and connect again)',
      error,
    );
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw unreadable('expected a JSON object');
  const record = value as Record<string, unknown>;

  const text_ = (field: string): string => {
    const raw = record[field];
    if (typeof raw !== 'string' || raw === '') throw unreadable(`${field}: expected a string`);
    return raw;
  };
  const time = (field: string, raw: unknown = record[field]): Date => {
    if (typeof raw !== 'string' || Number.isNaN(Date.parse(raw))) {
      throw unreadable(`${field}: expected an ISO 8601 time`);
    }
    return new Date(raw);
  };
  const optionalTime = (field: string): Date | null => (record[field] === null ? null : time(field));

  if (record.format !== GRANT_FILE_FORMAT) throw unreadable(`format: expected "${GRANT_FILE_FORMAT}"`);
  if (record.owner !== where.owner || record.provider !== where.provider) {
    throw unreadable(`holds the grant of ${String(record.owner)}/${String(record.provider)}, not this one`);
  }
  const status = record.status;
  if (status !== 'active' && status !== 'needs_auth')
    throw unreadable('status: expected "active" or "needs_auth"');
  const scopes = record.scopes;
  if (scopes !== null && !(Array.isArray(scopes) && scopes.every((scope) => typeof scope === 'string'))) {
    throw unreadable('scopes: expected an array of strings or null');
  }
  const generation = record.generation;
  if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 0) {
    throw unreadable('generation: expected a whole number');
  }
  let needsAuth: StoredGrant['needsAuth'] = null;
  if (record.needs_auth !== null) {
    const raw = record.needs_auth as Record<string, unknown> | undefined;
    if (!raw || typeof raw.code !== 'string' || typeof raw.reason !== 'string') {
      throw unreadable('needs_auth: expected {code, reason, at} or null');
    }
    needsAuth = { code: raw.code, reason: raw.reason, at: time('needs_auth.at', raw.at) };
  }

  const keyId = text_('key_id');
  if (keyId !== box.keyId) {
    throw unreadable(
      `encrypted with another key (key id ${keyId}; the current key is ${box.keyId}): ` +
        'set NANOCLAW_ENCRYPTION_KEY to the key it was written with, or restore the key file',
    );
  }
  const open = (field: string): string | null => {
    const raw = record[field];
    if (raw === null) return null;
    if (typeof raw !== 'string') throw unreadable(`${field}: expected a sealed value or null`);
    try {
      return box.open(raw, associatedData(where.owner, where.provider, field));
    } catch (error) {
      if (error instanceof SecretBoxOpenError) {
        throw unreadable(`${field} cannot be decrypted: the file was changed or damaged`, error);
      }
      throw error;
    }
  };

  return {
    owner: where.owner,
    provider: where.provider,
    status,
    accessToken: open('access_token'),
    refreshToken: open('refresh_token'),
    tokenType: text_('token_type'),
    expiresAt: optionalTime('expires_at'),
    scopes: scopes as string[] | null,
    authorizedAt: time('authorized_at'),
    obtainedAt: time('obtained_at'),
    lastRefreshedAt: optionalTime('last_refreshed_at'),
    generation,
    needsAuth,
    // Files written before this field existed have none: no refresh was left unanswered.
    refreshSentAt: record.refresh_sent_at === undefined ? null : optionalTime('refresh_sent_at'),
  };
}
