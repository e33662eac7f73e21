import { describe, expect, it } from 'vitest';
import type { NangoProviderConfig } from '../../../src/config/types.js';
import type { SourceToken } from '../../../src/sources/token-source.js';
import {
  buildTokenFile,
  isSameToken,
  parseTokenFile,
  serializeTokenFile,
  TokenFileFormatError,
} from '../../../src/tokens/token-file.js';

const provider: NangoProviderConfig = {
  name: 'google-calendar',
  source: 'nango',
  integration: 'google-calendar',
  scopes: ['calendar', 'calendar.events'],
  exposeRefreshToken: false,
  connections: {},
};

const token: SourceToken = {
  accessToken: 'access-1',
  tokenType: 'Bearer',
  expiresAt: new Date('2030-01-01T10:00:00.000Z'),
  scopes: null,
  refreshToken: 'refresh-1',
};

const SYNCED = new Date('2030-01-01T09:00:00.000Z');

describe('buildTokenFile', () => {
  it('writes the fields a skill reads, and no refresh token', () => {
    const file = buildTokenFile(provider, token, SYNCED);
    expect(file).toEqual({
      provider: 'google-calendar',
      access_token: 'access-1',
      token_type: 'Bearer',
      expires_at: '2030-01-01T10:00:00.000Z',
      scopes: ['calendar', 'calendar.events'],
      synced_at: '2030-01-01T09:00:00.000Z',
    });
    expect('refresh_token' in file).toBe(false);
    expect(serializeTokenFile(file)).not.toContain('refresh-1');
  });

  it('includes the refresh token only when the provider opts in', () => {
    const file = buildTokenFile({ ...provider, exposeRefreshToken: true }, token, SYNCED);
    expect(file.refresh_token).toBe('refresh-1');
    const none = buildTokenFile(
      { ...provider, exposeRefreshToken: true },
      { ...token, refreshToken: null },
      SYNCED,
    );
    expect('refresh_token' in none).toBe(false);
  });

  it('takes scopes from the source when it reports them, else the configured ones', () => {
    expect(buildTokenFile(provider, { ...token, scopes: ['calendar.readonly'] }, SYNCED).scopes).toEqual([
      'calendar.readonly',
    ]);
    expect(buildTokenFile(provider, { ...token, scopes: [] }, SYNCED).scopes).toEqual([]);
    expect(buildTokenFile(provider, { ...token, scopes: null }, SYNCED).scopes).toEqual(provider.scopes);
  });

  it('writes null for a token without expiry', () => {
    expect(buildTokenFile(provider, { ...token, expiresAt: null }, SYNCED).expires_at).toBeNull();
  });
});

describe('isSameToken', () => {
  const file = buildTokenFile(provider, token, SYNCED);

  it('ignores the sync time', () => {
    expect(isSameToken(file, buildTokenFile(provider, token, new Date('2031-01-01T00:00:00Z')))).toBe(true);
  });

  it.each([
    ['access token', { access_token: 'access-2' }],
    ['token type', { token_type: 'MAC' }],
    ['expiry', { expires_at: '2030-01-01T11:00:00.000Z' }],
    ['scopes', { scopes: ['calendar'] }],
    ['scope order', { scopes: ['calendar.events', 'calendar'] }],
    ['refresh token', { refresh_token: 'refresh-2' }],
  ])('sees a changed %s', (_label, change) => {
    expect(isSameToken(file, { ...file, ...change })).toBe(false);
  });
});

describe('parseTokenFile', () => {
  const file = buildTokenFile({ ...provider, exposeRefreshToken: true }, token, SYNCED);

  it('reads back what was written', () => {
    expect(parseTokenFile(serializeTokenFile(file))).toEqual(file);
  });

  it.each([
    ['', 'not valid JSON'],
    ['{"provider": "a", "acc', 'not valid JSON'],
    ['[]', 'expected a JSON object'],
    ['null', 'expected a JSON object'],
    [JSON.stringify({ ...file, access_token: '' }), 'access_token: expected a string'],
    [JSON.stringify({ ...file, expires_at: 'tomorrow' }), 'expires_at: expected an ISO 8601 time or null'],
    [JSON.stringify({ ...file, synced_at: null }), 'synced_at: expected an ISO 8601 time'],
    [JSON.stringify({ ...file, scopes: 'calendar' }), 'scopes: expected an array of strings'],
  ])('refuses %j: %s', (text, message) => {
    expect(() => parseTokenFile(text)).toThrow(new TokenFileFormatError(message));
  });

  it('never puts file contents in its error', () => {
    try {
      parseTokenFile(JSON.stringify({ ...file, expires_at: 'secret-looking-value' }));
    } catch (error) {
      expect(String(error)).not.toContain('secret-looking-value');
      return;
    }
    throw new Error('expected a TokenFileFormatError');
  });
});
