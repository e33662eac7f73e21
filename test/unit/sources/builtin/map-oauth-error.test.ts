import * as oauth from 'oauth4webapi';
import { describe, expect, it } from 'vitest';
import { classifyOAuthFailure, cleanProviderError } from '../../../../src/sources/builtin/map-oauth-error.js';
import { parseRetryAfter } from '../../../../src/sources/retry-after.js';

const as: oauth.AuthorizationServer = {
  issuer: 'https://login.example.com',
  token_endpoint: 'https://login.example.com/token',
  authorization_response_iss_parameter_supported: true,
};
const client: oauth.Client = { client_id: 'nanoclaw' };
const NOW = Date.parse('2030-01-01T00:00:00Z');

/** What oauth4webapi throws for a canned token-endpoint answer. */
async function failureOf(status: number, body: string, headers: Record<string, string> = {}) {
  const response = new Response(body, {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
  const error = await oauth.processRefreshTokenResponse(as, client, response).then(
    () => null,
    (caught: unknown) => caught,
  );
  return classifyOAuthFailure(error, NOW);
}

describe('classifyOAuthFailure', () => {
  it("treats invalid_grant (and GitHub's 200-with-error) as a grant that is gone", async () => {
    expect(await failureOf(400, '{"error":"invalid_grant","error_description":"grant revoked"}')).toEqual({
      kind: 'invalid_grant',
      providerError: 'invalid_grant',
      status: 400,
      retryAfterMs: null,
      description: 'the provider refused the request (invalid_grant, HTTP 400)',
    });
    expect(await failureOf(200, '{"error":"bad_refresh_token"}')).toMatchObject({
      kind: 'invalid_grant',
      providerError: 'bad_refresh_token',
    });
  });

  it('treats a rejected client or scope as configuration', async () => {
    expect(await failureOf(400, '{"error":"invalid_client"}')).toMatchObject({ kind: 'configuration' });
    expect(await failureOf(400, '{"error":"invalid_scope"}')).toMatchObject({ kind: 'configuration' });
    expect(
      await failureOf(401, '{"error":"invalid_client"}', {
        'www-authenticate': 'Basic error="invalid_client"',
      }),
    ).toMatchObject({ kind: 'configuration', providerError: 'invalid_client', status: 401 });
  });

  it('treats 5xx, 429 and temporarily_unavailable as transient, with Retry-After', async () => {
    expect(
      await failureOf(503, 'down for maintenance', { 'content-type': 'text/plain', 'retry-after': '30' }),
    ).toEqual({
      kind: 'transient',
      providerError: null,
      status: 503,
      retryAfterMs: 30_000,
      description: 'the provider answered HTTP 503',
    });
    expect(await failureOf(429, '{"error":"slow_down"}', { 'retry-after': '2' })).toMatchObject({
      kind: 'transient',
      retryAfterMs: 2000,
    });
    expect(await failureOf(400, '{"error":"temporarily_unavailable"}')).toMatchObject({ kind: 'transient' });
  });

  it('treats network failures and timeouts as transient', () => {
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }),
    });
    expect(classifyOAuthFailure(refused, NOW)).toMatchObject({
      kind: 'transient',
      description: 'cannot reach the provider (ECONNREFUSED)',
    });
    expect(classifyOAuthFailure(new DOMException('timed out', 'TimeoutError'), NOW)).toMatchObject({
      kind: 'transient',
      description: 'the provider did not answer in time',
    });
  });

  it('distrusts answers that are not token responses', async () => {
    expect(await failureOf(200, '<html>login</html>', { 'content-type': 'text/html' })).toMatchObject({
      kind: 'invalid_response',
    });
    expect(await failureOf(200, '{"token_type":"bearer"}')).toMatchObject({ kind: 'invalid_response' });
    expect(await failureOf(404, 'no such endpoint', { 'content-type': 'text/plain' })).toMatchObject({
      kind: 'refused',
      status: 404,
    });
  });

  it("reads the status of a non-JSON error page (a proxy's rate limit)", async () => {
    expect(
      await failureOf(429, '<h1>Too many requests</h1>', { 'content-type': 'text/html', 'retry-after': '7' }),
    ).toEqual({
      kind: 'transient',
      providerError: null,
      status: 429,
      retryAfterMs: 7000,
      description: 'the provider answered HTTP 429',
    });
  });

  it('reads an authorization error from the callback', () => {
    const callback = new URLSearchParams({ error: 'access_denied', state: 's', iss: as.issuer });
    let caught: unknown;
    try {
      oauth.validateAuthResponse(as, client, callback, 's');
    } catch (error) {
      caught = error;
    }
    expect(classifyOAuthFailure(caught, NOW)).toMatchObject({
      kind: 'authorization_error',
      providerError: 'access_denied',
    });
  });

  it('keeps the tokens of a malformed answer out of the description', async () => {
    const failure = await failureOf(200, '{"access_token":"AT-secret-value","token_type":"weird"}');
    expect(failure?.kind).toBe('invalid_response');
    expect(JSON.stringify(failure)).not.toContain('AT-secret-value');
  });

  it('leaves anything else to the caller', () => {
    expect(classifyOAuthFailure(new RangeError('bug'), NOW)).toBeNull();
  });
});

describe('cleanProviderError and parseRetryAfter', () => {
  it('accepts only plain error codes', () => {
    expect(cleanProviderError('access_denied')).toBe('access_denied');
    expect(cleanProviderError('<script>alert(1)</script>')).toBeNull();
    expect(cleanProviderError('x'.repeat(65))).toBeNull();
    expect(cleanProviderError(42)).toBeNull();
  });

  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(new Date(NOW + 5000).toUTCString(), NOW)).toBe(5000);
    expect(parseRetryAfter('soon', NOW)).toBeNull();
    expect(parseRetryAfter(null, NOW)).toBeNull();
  });
});
