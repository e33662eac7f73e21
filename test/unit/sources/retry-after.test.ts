import * as oauth from 'oauth4webapi';
import { describe, expect, it } from 'vitest';
import type { NangoProviderConfig } from '../../../src/config/types.js';
import { retryDelayMs } from '../../../src/daemon/backoff.js';
import { classifyOAuthFailure } from '../../../src/sources/builtin/map-oauth-error.js';
import type { ConnectionRegistry } from '../../../src/sources/nango/connection-registry.js';
import { mapNangoFailure } from '../../../src/sources/nango/map-nango-error.js';
import type { NangoApi } from '../../../src/sources/nango/nango-api.js';
import { NangoSource } from '../../../src/sources/nango/nango-source.js';
import { MAX_RETRY_AFTER_MS, parseRetryAfter } from '../../../src/sources/retry-after.js';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const DAY_IN_SECONDS = '86400';

describe('parseRetryAfter', () => {
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter(' 120 ', NOW)).toBe(120_000);
  });

  it('reads the three HTTP date forms as GMT', () => {
    expect(parseRetryAfter(new Date(NOW + 5_000).toUTCString(), NOW)).toBe(5_000);
    expect(parseRetryAfter('Tuesday, 01-Jan-30 00:00:07 GMT', NOW)).toBe(7_000);
    // asctime has no zone; HTTP says it is GMT, whatever this machine's zone.
    expect(parseRetryAfter('Tue Jan  1 00:00:09 2030', NOW)).toBe(9_000);
  });

  it('waits no time for a date that has passed', () => {
    expect(parseRetryAfter(new Date(NOW - 60_000).toUTCString(), NOW)).toBe(0);
  });

  it('never asks for more than five minutes, in seconds or as a date', () => {
    expect(MAX_RETRY_AFTER_MS).toBe(5 * 60_000);
    expect(parseRetryAfter(DAY_IN_SECONDS, NOW)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter('99999999999999999999999', NOW)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter(new Date(NOW + 365 * 86_400_000).toUTCString(), NOW)).toBe(MAX_RETRY_AFTER_MS);
  });

  it('refuses what is neither form, though Date.parse would take it', () => {
    for (const header of ['1.5', '-5', '2030-01-01', 'Jan 2', 'soon', '', '12abc']) {
      expect(parseRetryAfter(header, NOW)).toBeNull();
    }
    expect(parseRetryAfter(null, NOW)).toBeNull();
  });
});

describe('a huge Retry-After does not stop refreshes for hours', () => {
  it('from a built-in provider', async () => {
    const response = new Response('busy', {
      status: 503,
      headers: { 'content-type': 'text/plain', 'retry-after': DAY_IN_SECONDS },
    });
    const error = await oauth
      .processRefreshTokenResponse(
        { issuer: 'https://login.example.com', token_endpoint: 'https://login.example.com/token' },
        { client_id: 'nanoclaw' },
        response,
      )
      .then(
        () => null,
        (caught: unknown) => caught,
      );
    expect(classifyOAuthFailure(error, NOW)).toMatchObject({
      kind: 'transient',
      retryAfterMs: MAX_RETRY_AFTER_MS,
    });
  });

  it("from Nango's rate limit and cooldown", () => {
    const context = { integration: 'github', connectionId: 'c', now: NOW };
    const failure = {
      errorCode: null,
      errorMessage: null,
      invalidFields: [],
      retryAfterHeader: DAY_IN_SECONDS,
      transportCode: null,
    };
    expect(mapNangoFailure({ ...failure, status: 429 }, context)).toMatchObject({
      code: 'RATE_LIMITED',
      retryAfterMs: MAX_RETRY_AFTER_MS,
    });
    const cooldown = { errorMessage: 'A recent refresh attempt failed. Backing off before retrying.' };
    expect(mapNangoFailure({ ...failure, ...cooldown, status: 424 }, context)).toMatchObject({
      code: 'SOURCE_COOLDOWN',
      retryAfterMs: MAX_RETRY_AFTER_MS,
    });
  });

  it("in NangoSource's pause for every caller", async () => {
    let now = NOW;
    const api: Pick<NangoApi, 'getConnection'> = {
      getConnection: async () => {
        throw Object.assign(new Error('Request failed with status code 429'), {
          response: {
            status: 429,
            data: { error: { code: 'too_many_request' } },
            headers: { 'retry-after': DAY_IN_SECONDS },
          },
        });
      },
    };
    const registry: Pick<ConnectionRegistry, 'get'> = { get: async () => 'connection-1' };
    const source = new NangoSource({
      api: api as NangoApi,
      registry: registry as ConnectionRegistry,
      now: () => now,
      sleep: async () => {},
    });
    const provider: NangoProviderConfig = {
      name: 'github',
      source: 'nango',
      integration: 'github',
      scopes: [],
      exposeRefreshToken: false,
      connections: {},
    };
    const request = {
      owner: 'alice',
      provider,
      mode: 'cached' as const,
      signal: new AbortController().signal,
    };

    expect(await source.fetchToken(request)).toMatchObject({
      status: 'unavailable',
      code: 'RATE_LIMITED',
      retryAfterMs: MAX_RETRY_AFTER_MS,
    });
    now += MAX_RETRY_AFTER_MS;
    // The pause is over once the capped wait has passed: the next fetch asks Nango again.
    let asked = false;
    api.getConnection = async () => {
      asked = true;
      return {
        connection_id: 'connection-1',
        credentials: { type: 'OAUTH2', access_token: 'after-pause', expires_at: '2030-01-02T00:00:00Z' },
      };
    };
    expect(await source.fetchToken(request)).toMatchObject({ status: 'token' });
    expect(asked).toBe(true);
  });

  it("in the refresher's retry delay, whatever a source reports", () => {
    expect(retryDelayMs(1_000, 24 * 3_600_000)).toBe(5 * 60_000);
    expect(retryDelayMs(1_000, 30_000)).toBe(30_000);
  });
});
