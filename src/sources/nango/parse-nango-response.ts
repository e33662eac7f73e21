import { InvalidSourceResponseError } from '../../errors.js';
import type { SourceToken } from '../token-source.js';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const OAUTH_TYPES = new Set(['OAUTH2', 'OAUTH2_CC', 'APP', 'CUSTOM', 'TBA']);

/**
 * Validates a `GET /connections/{id}` answer into a token. Never echoes field values: a malformed
 * answer may still hold a secret.
 */
export function parseConnectionResponse(data: unknown, integration: string): SourceToken {
  const fail = (what: string) =>
    new InvalidSourceResponseError(
      `Nango returned a malformed connection for integration "${integration}": ${what}`,
    );
  if (!isRecord(data)) throw fail('expected a JSON object');
  const credentials = data.credentials;
  if (!isRecord(credentials)) throw fail('credentials: expected an object');
  if (typeof credentials.type !== 'string') throw fail('credentials.type: expected a string');
  if (!OAUTH_TYPES.has(credentials.type)) {
    // Name the type only when it looks like one of Nango's (API_KEY, BASIC): the field could hold anything.
    const type = /^[A-Z0-9_]{1,24}$/.test(credentials.type) ? `"${credentials.type}"` : 'this type';
    throw fail(`credentials.type: ${type} is not an OAuth token`);
  }
  const accessToken = credentials.access_token ?? credentials.token;
  if (typeof accessToken !== 'string' || accessToken === '')
    throw fail('credentials.access_token: expected a non-empty string');

  let expiresAt: Date | null = null;
  if (credentials.expires_at !== undefined && credentials.expires_at !== null) {
    if (typeof credentials.expires_at !== 'string' && typeof credentials.expires_at !== 'number') {
      throw fail('credentials.expires_at: expected an ISO 8601 time');
    }
    expiresAt = new Date(credentials.expires_at);
    if (Number.isNaN(expiresAt.getTime())) throw fail('credentials.expires_at: expected an ISO 8601 time');
  }

  const raw = isRecord(credentials.raw) ? credentials.raw : {};
  const tokenType =
    typeof raw.token_type === 'string' && raw.token_type !== ''
      ? normalizeTokenType(raw.token_type)
      : 'Bearer';
  const refreshToken = typeof credentials.refresh_token === 'string' ? credentials.refresh_token : null;
  return { accessToken, tokenType, expiresAt, scopes: parseScopes(raw.scope ?? raw.scopes), refreshToken };
}

function normalizeTokenType(value: string): string {
  return value.toLowerCase() === 'bearer' ? 'Bearer' : value;
}

/** Providers report granted scopes space- or comma-separated, or as an array. */
export function parseScopes(value: unknown): string[] | null {
  if (typeof value === 'string') return value.split(/[\s,]+/).filter((scope) => scope !== '');
  if (Array.isArray(value) && value.every((scope) => typeof scope === 'string')) return value as string[];
  return null;
}

export interface NangoConnectionSummary {
  connectionId: string;
  integration: string;
  created: string;
}

/** Validates a `GET /connections` answer. */
export function parseConnectionList(data: unknown): NangoConnectionSummary[] {
  if (!isRecord(data) || !Array.isArray(data.connections)) {
    throw new InvalidSourceResponseError(
      'Nango returned a malformed connection list: connections: expected an array',
    );
  }
  return data.connections.flatMap((entry): NangoConnectionSummary[] => {
    if (
      !isRecord(entry) ||
      typeof entry.connection_id !== 'string' ||
      typeof entry.provider_config_key !== 'string'
    ) {
      return [];
    }
    return [
      {
        connectionId: entry.connection_id,
        integration: entry.provider_config_key,
        created: typeof entry.created === 'string' ? entry.created : '',
      },
    ];
  });
}

export interface NangoConnectSession {
  token: string;
  connectLink: string | null;
  expiresAt: string | null;
}

/** Validates a `POST /connect/sessions` answer. */
export function parseConnectSession(data: unknown): NangoConnectSession {
  const inner = isRecord(data) && isRecord(data.data) ? data.data : null;
  if (!inner || typeof inner.token !== 'string' || inner.token === '') {
    throw new InvalidSourceResponseError(
      'Nango returned a malformed connect session: data.token: expected a string',
    );
  }
  return {
    token: inner.token,
    connectLink: typeof inner.connect_link === 'string' ? inner.connect_link : null,
    expiresAt: typeof inner.expires_at === 'string' ? inner.expires_at : null,
  };
}

/** The end user a connection answer names (`end_user.id`), or null when it names none. */
export function parseConnectionEndUser(data: unknown): string | null {
  if (!isRecord(data) || !isRecord(data.end_user)) return null;
  return typeof data.end_user.id === 'string' ? data.end_user.id : null;
}
