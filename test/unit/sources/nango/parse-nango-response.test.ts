import { describe, expect, it } from 'vitest';
import { InvalidSourceResponseError } from '../../../../src/errors.js';
import {
  parseConnectionList,
  parseConnectionResponse,
  parseConnectSession,
  parseScopes,
} from '../../../../src/sources/nango/parse-nango-response.js';

const TOKEN = 'ya29.secret-access-token-value';

function connection(credentials: Record<string, unknown>) {
  return { id: 1, connection_id: 'conn-1', provider_config_key: 'google-calendar', credentials };
}

function parseError(data: unknown): InvalidSourceResponseError {
  try {
    parseConnectionResponse(data, 'google-calendar');
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidSourceResponseError);
    return error as InvalidSourceResponseError;
  }
  throw new Error('expected the answer to be refused');
}

describe('parseConnectionResponse', () => {
  it('reads an OAuth 2 connection', () => {
    expect(
      parseConnectionResponse(
        connection({
          type: 'OAUTH2',
          access_token: TOKEN,
          refresh_token: 'refresh',
          expires_at: '2030-01-01T10:00:00.000Z',
          raw: { token_type: 'bearer', scope: 'calendar calendar.events' },
        }),
        'google-calendar',
      ),
    ).toEqual({
      accessToken: TOKEN,
      tokenType: 'Bearer',
      expiresAt: new Date('2030-01-01T10:00:00.000Z'),
      scopes: ['calendar', 'calendar.events'],
      refreshToken: 'refresh',
    });
  });

  it('defaults what Nango may leave out: expiry, token type, scopes, refresh token', () => {
    expect(parseConnectionResponse(connection({ type: 'OAUTH2', access_token: TOKEN }), 'x')).toEqual({
      accessToken: TOKEN,
      tokenType: 'Bearer',
      expiresAt: null,
      scopes: null,
      refreshToken: null,
    });
  });

  it('reads client-credentials connections, whose token is `token`', () => {
    expect(parseConnectionResponse(connection({ type: 'OAUTH2_CC', token: TOKEN }), 'x').accessToken).toBe(
      TOKEN,
    );
  });

  it.each([
    [
      'a string body (malformed JSON)',
      `{"credentials": {"access_token": "${TOKEN}"`,
      'expected a JSON object',
    ],
    ['null', null, 'expected a JSON object'],
    ['an array', [TOKEN], 'expected a JSON object'],
    ['no credentials', { access_token: TOKEN }, 'credentials: expected an object'],
    [
      'a credentials type that is not a string',
      connection({ type: 1, access_token: TOKEN }),
      'credentials.type: expected a string',
    ],
    [
      'an API key connection',
      connection({ type: 'API_KEY', apiKey: TOKEN }),
      'credentials.type: "API_KEY" is not an OAuth token',
    ],
    [
      'an empty token',
      connection({ type: 'OAUTH2', access_token: '' }),
      'credentials.access_token: expected a non-empty string',
    ],
    [
      'a token that is not a string',
      connection({ type: 'OAUTH2', access_token: { value: TOKEN } }),
      'credentials.access_token: expected a non-empty string',
    ],
    [
      'an expiry that is not a time',
      connection({ type: 'OAUTH2', access_token: TOKEN, expires_at: 'soon' }),
      'credentials.expires_at: expected an ISO 8601 time',
    ],
    [
      'an expiry of the wrong type',
      connection({ type: 'OAUTH2', access_token: TOKEN, expires_at: { at: 1 } }),
      'credentials.expires_at: expected an ISO 8601 time',
    ],
  ])('refuses %s with a clear message that never echoes the token', (_label, data, message) => {
    const error = parseError(data);
    expect(error.code).toBe('INVALID_SOURCE_RESPONSE');
    expect(error.message).toBe(
      `Nango returned a malformed connection for integration "google-calendar": ${message}`,
    );
    expect(JSON.stringify(error)).not.toContain(TOKEN);
  });

  it('does not repeat an odd credentials type, which could be anything', () => {
    const error = parseError(connection({ type: TOKEN, access_token: TOKEN }));
    expect(error.message).not.toContain(TOKEN);
    expect(error.message).toContain('credentials.type: ');
  });
});

describe('parseScopes', () => {
  it('reads space- or comma-separated strings and string arrays', () => {
    expect(parseScopes('a b  c')).toEqual(['a', 'b', 'c']);
    expect(parseScopes('repo,user:email')).toEqual(['repo', 'user:email']);
    expect(parseScopes(['x', 'y'])).toEqual(['x', 'y']);
    expect(parseScopes('')).toEqual([]);
    expect(parseScopes([1, 2])).toBeNull();
    expect(parseScopes(undefined)).toBeNull();
  });
});

describe('parseConnectionList', () => {
  it('keeps well-formed entries and skips the rest', () => {
    expect(
      parseConnectionList({
        connections: [
          { connection_id: 'c1', provider_config_key: 'github', created: '2030-01-01T00:00:00Z' },
          { connection_id: 'c2', provider_config_key: 'slack' },
          { connection_id: 3, provider_config_key: 'x' },
          null,
        ],
      }),
    ).toEqual([
      { connectionId: 'c1', integration: 'github', created: '2030-01-01T00:00:00Z' },
      { connectionId: 'c2', integration: 'slack', created: '' },
    ]);
  });

  it.each([null, 'text', { connections: 'x' }, { data: [] }])('refuses %j', (data) => {
    expect(() => parseConnectionList(data)).toThrow(
      new InvalidSourceResponseError(
        'Nango returned a malformed connection list: connections: expected an array',
      ),
    );
  });
});

describe('parseConnectSession', () => {
  it('reads a connect session', () => {
    expect(
      parseConnectSession({
        data: { token: 'nango_connect_session_1', connect_link: 'https://connect', expires_at: 'x' },
      }),
    ).toEqual({ token: 'nango_connect_session_1', connectLink: 'https://connect', expiresAt: 'x' });
    expect(parseConnectSession({ data: { token: 't' } })).toEqual({
      token: 't',
      connectLink: null,
      expiresAt: null,
    });
  });

  it.each([null, {}, { data: {} }, { data: { token: '' } }, { token: 't' }])('refuses %j', (data) => {
    expect(() => parseConnectSession(data)).toThrow(InvalidSourceResponseError);
  });
});
