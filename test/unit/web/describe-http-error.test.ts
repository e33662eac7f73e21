import { describe, expect, it } from 'vitest';
import { TokenSourceUnavailableError, UnknownProviderError } from '../../../src/errors.js';
import { DiscoveryError } from '../../../src/sources/builtin/builtin-errors.js';
import { HttpError } from '../../../src/web/server/http-error.js';
import { describeHttpError } from '../../../src/web/server/web-server.js';

describe('describeHttpError', () => {
  it('keeps our own errors with their status and code', () => {
    expect(describeHttpError(new HttpError(401, 'UNAUTHORIZED', 'no'))).toEqual({
      status: 401,
      code: 'UNAUTHORIZED',
      message: 'no',
    });
    expect(describeHttpError(new UnknownProviderError('x'))).toMatchObject({
      status: 404,
      code: 'UNKNOWN_PROVIDER',
    });
    expect(describeHttpError(new TokenSourceUnavailableError('down'))).toMatchObject({
      status: 502,
      code: 'TOKEN_SOURCE_UNAVAILABLE',
    });
    expect(describeHttpError(new DiscoveryError('issuer unreachable'))).toMatchObject({
      status: 502,
      code: 'DISCOVERY_FAILED',
    });
  });

  it('maps framework errors onto stable codes', () => {
    expect(describeHttpError({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }).code).toBe(
      'PAYLOAD_TOO_LARGE',
    );
    expect(describeHttpError({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }).code).toBe(
      'UNSUPPORTED_MEDIA_TYPE',
    );
    expect(describeHttpError({ code: 'FST_ERR_SOMETHING', statusCode: 400 })).toMatchObject({
      status: 400,
      code: 'INVALID_REQUEST',
    });
  });

  it('hides anything else behind a generic 500', () => {
    const leaky = new Error('connect ECONNREFUSED with token abc123');
    expect(describeHttpError(leaky)).toEqual({ status: 500, code: 'INTERNAL', message: 'internal error' });
  });
});
