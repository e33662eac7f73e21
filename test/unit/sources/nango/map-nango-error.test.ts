import { describe, expect, it } from 'vitest';
import { TokenSourceConfigError } from '../../../../src/errors.js';
import {
  describeNangoFailure,
  mapNangoFailure,
  NANGO_MIN_RETRY_AFTER_MS,
  NANGO_REFRESH_COOLDOWN_MS,
  type NangoFailure,
} from '../../../../src/sources/nango/map-nango-error.js';
import { parseRetryAfter } from '../../../../src/sources/retry-after.js';

const NOW = Date.parse('2030-01-01T12:00:00.000Z');
const CONTEXT = { integration: 'google-calendar', connectionId: 'conn-1', now: NOW };

function failure(status: number | null, errorCode: string | null = null, extra: Partial<NangoFailure> = {}) {
  return {
    status,
    errorCode,
    errorMessage: null,
    invalidFields: [],
    retryAfterHeader: null,
    transportCode: null,
    ...extra,
  };
}

/** The two 424 answers a real Nango gives: same status and code, only the message differs. */
const COOLDOWN_MESSAGE = 'A recent refresh attempt failed. Backing off before retrying.';
const EXHAUSTED_MESSAGE = 'The refresh limit has been reached for this connection.';

describe('mapNangoFailure: every answer NANGO.md records', () => {
  it('404 not_found: the owner must authorize', () => {
    expect(mapNangoFailure(failure(404, 'not_found'), CONTEXT)).toEqual({
      status: 'needs_auth',
      code: 'CONNECTION_NOT_FOUND',
      reason: 'Nango has no connection for integration "google-calendar", connection "conn-1"',
    });
  });

  it('400 invalid_credentials: the refresh failed, the owner must authorize', () => {
    expect(mapNangoFailure(failure(400, 'invalid_credentials'), CONTEXT)).toMatchObject({
      status: 'needs_auth',
      code: 'REFRESH_FAILED',
    });
  });

  it('424 invalid_credentials once the refresh limit is reached: Nango gave up, the owner must authorize', () => {
    expect(
      mapNangoFailure(failure(424, 'invalid_credentials', { errorMessage: EXHAUSTED_MESSAGE }), CONTEXT),
    ).toEqual({
      status: 'needs_auth',
      code: 'REFRESH_EXHAUSTED',
      reason: 'Nango gave up refreshing integration "google-calendar", connection "conn-1"',
    });
  });

  it('424 during the refresh cooldown: unavailable, so a still-valid file is kept', () => {
    expect(
      mapNangoFailure(failure(424, 'invalid_credentials', { errorMessage: COOLDOWN_MESSAGE }), CONTEXT),
    ).toEqual({
      status: 'unavailable',
      code: 'SOURCE_COOLDOWN',
      reason: expect.stringContaining('cooling down'),
      retryAfterMs: NANGO_REFRESH_COOLDOWN_MS,
    });
    expect(
      mapNangoFailure(
        failure(424, 'invalid_credentials', { errorMessage: COOLDOWN_MESSAGE, retryAfterHeader: '12' }),
        CONTEXT,
      ),
    ).toMatchObject({
      status: 'unavailable',
      code: 'SOURCE_COOLDOWN',
      retryAfterMs: 12_000,
    });
  });

  it.each([
    ['an unknown message', 'Something else went wrong with this connection.'],
    ['no message', null],
  ])('424 with %s is not the cooldown: the owner must authorize', (_name, errorMessage) => {
    expect(mapNangoFailure(failure(424, 'invalid_credentials', { errorMessage }), CONTEXT)).toEqual({
      status: 'needs_auth',
      code: 'REFRESH_REFUSED',
      reason:
        'Nango refused to refresh integration "google-calendar", connection "conn-1" (HTTP 424, not its cooldown)',
    });
  });

  it.each([401, 403])('%i: a configuration error naming the key variable', (status) => {
    expect(() => mapNangoFailure(failure(status, 'unknown_account'), CONTEXT)).toThrow(
      TokenSourceConfigError,
    );
    expect(() => mapNangoFailure(failure(status, 'unknown_account'), CONTEXT)).toThrow(/NANGO_SECRET_KEY/);
  });

  it('400 unknown_provider_config: a configuration error naming the integration', () => {
    expect(() => mapNangoFailure(failure(400, 'unknown_provider_config'), CONTEXT)).toThrow(
      new TokenSourceConfigError(
        'Nango has no integration "google-calendar": create it in Nango or fix the provider\'s integration id',
      ),
    );
  });

  it('429 too_many_request: unavailable until Retry-After (seconds or HTTP date)', () => {
    expect(mapNangoFailure(failure(429, 'too_many_request', { retryAfterHeader: '7' }), CONTEXT)).toEqual({
      status: 'unavailable',
      code: 'RATE_LIMITED',
      reason: 'Nango rate limit reached',
      retryAfterMs: 7000,
    });
    const date = new Date(NOW + 90_000).toUTCString();
    expect(
      mapNangoFailure(failure(429, 'too_many_request', { retryAfterHeader: date }), CONTEXT),
    ).toMatchObject({ retryAfterMs: 90_000 });
    expect(mapNangoFailure(failure(429, 'too_many_request'), CONTEXT)).toMatchObject({
      retryAfterMs: 60_000,
    });
  });

  it('429 with Retry-After: 0 still waits a moment, so no retry lands in the same instant', () => {
    expect(
      mapNangoFailure(failure(429, 'too_many_request', { retryAfterHeader: '0' }), CONTEXT),
    ).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: NANGO_MIN_RETRY_AFTER_MS });
    expect(NANGO_MIN_RETRY_AFTER_MS).toBeGreaterThanOrEqual(1000);
  });

  it.each([500, 502, 503, 504])('%i: unavailable', (status) => {
    expect(mapNangoFailure(failure(status), CONTEXT)).toEqual({
      status: 'unavailable',
      code: 'SOURCE_ERROR',
      reason: `Nango answered HTTP ${status}`,
      retryAfterMs: null,
    });
  });

  it.each([
    ['ECONNREFUSED', 'SOURCE_UNREACHABLE'],
    ['ENOTFOUND', 'SOURCE_UNREACHABLE'],
    ['ECONNRESET', 'SOURCE_UNREACHABLE'],
    ['ECONNABORTED', 'SOURCE_TIMEOUT'],
    ['ETIMEDOUT', 'SOURCE_TIMEOUT'],
  ])('a network error %s: unavailable (%s)', (transportCode, code) => {
    expect(mapNangoFailure(failure(null, null, { transportCode }), CONTEXT)).toMatchObject({
      status: 'unavailable',
      code,
    });
  });

  it('any other 4xx: unavailable, naming the status and code', () => {
    expect(mapNangoFailure(failure(400, 'invalid_query_params'), CONTEXT)).toMatchObject({
      status: 'unavailable',
      code: 'SOURCE_REJECTED',
      reason: expect.stringContaining('HTTP 400 (invalid_query_params)'),
    });
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates, and nothing else', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter(' 120 ', NOW)).toBe(120_000);
    expect(parseRetryAfter(new Date(NOW + 5000).toUTCString(), NOW)).toBe(5000);
    expect(parseRetryAfter(new Date(NOW - 5000).toUTCString(), NOW)).toBe(0);
    expect(parseRetryAfter(null, NOW)).toBeNull();
    expect(parseRetryAfter('soon', NOW)).toBeNull();
    expect(parseRetryAfter('-5', NOW)).toBeNull();
  });
});

describe('describeNangoFailure', () => {
  it('reads status, Nango error code, Retry-After and transport code from an axios error', () => {
    const axiosLike = {
      code: 'ERR_BAD_REQUEST',
      config: { headers: { Authorization: 'Bearer secret-key' } },
      response: {
        status: 429,
        data: { error: { code: 'too_many_request', message: 'slow down' } },
        headers: { 'retry-after': '3' },
      },
    };
    expect(describeNangoFailure(axiosLike)).toEqual({
      status: 429,
      errorCode: 'too_many_request',
      errorMessage: 'slow down',
      invalidFields: [],
      retryAfterHeader: '3',
      transportCode: 'ERR_BAD_REQUEST',
    });
    expect(JSON.stringify(describeNangoFailure(axiosLike))).not.toContain('secret-key');
  });

  it("reads the paths of a 400 invalid_body's field errors", () => {
    const invalidBody = {
      response: {
        status: 400,
        data: {
          error: {
            code: 'invalid_body',
            errors: [
              { code: 'custom', message: 'Integration does not exist', path: ['allowed_integrations', 0] },
            ],
          },
        },
      },
    };
    expect(describeNangoFailure(invalidBody)).toMatchObject({
      status: 400,
      errorCode: 'invalid_body',
      invalidFields: ['allowed_integrations.0'],
    });
  });

  it('copes with old-style string errors, bodies that are not objects and no response at all', () => {
    expect(describeNangoFailure({ response: { status: 404, data: { error: 'not_found' } } })).toMatchObject({
      status: 404,
      errorCode: 'not_found',
    });
    expect(
      describeNangoFailure({ response: { status: 502, data: '<html>bad gateway</html>' } }),
    ).toMatchObject({
      status: 502,
      errorCode: null,
    });
    expect(describeNangoFailure({ code: 'ECONNREFUSED' })).toEqual({
      status: null,
      errorCode: null,
      errorMessage: null,
      invalidFields: [],
      retryAfterHeader: null,
      transportCode: 'ECONNREFUSED',
    });
    expect(describeNangoFailure(undefined)).toMatchObject({ status: null, transportCode: null });
  });
});
