import { describe, expect, it } from 'vitest';
import { processLarkTokenAnswer } from '../../../../src/sources/builtin/lark-token-response.js';
import { refusalOfRefresh } from '../../../../src/sources/builtin/refresh-refusal.js';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const answer = (status: number, body: unknown, retryAfter: string | null = null) =>
  processLarkTokenAnswer({ status, body, retryAfter }, NOW);

describe("processLarkTokenAnswer (Lark's v2 token endpoint)", () => {
  it('reads the flat success answer', () => {
    expect(
      answer(200, {
        code: 0,
        access_token: 'u-access',
        expires_in: 7200,
        refresh_token: 'ur-refresh',
        refresh_token_expires_in: 604800,
        token_type: 'Bearer',
        scope: 'calendar:calendar offline_access',
      }),
    ).toEqual({
      ok: true,
      response: {
        accessToken: 'u-access',
        tokenType: 'Bearer',
        expiresInSeconds: 7200,
        refreshToken: 'ur-refresh',
        scope: 'calendar:calendar offline_access',
      },
    });
    // Without offline_access Lark sends no refresh token.
    expect(
      answer(200, { code: 0, access_token: 'u-access', expires_in: 7200, token_type: 'Bearer' }),
    ).toMatchObject({
      ok: true,
      response: { refreshToken: null, scope: null },
    });
  });

  it.each([
    [20037, 'expired'],
    [20064, 'revoked'],
    [20073, 'reused'],
    [20026, 'invalid'],
  ] as const)('reads error %i as an invalid grant (%s)', (code, refusal) => {
    const outcome = answer(400, { code, error: 'invalid_grant', error_description: 'secret-free words' });
    expect(outcome).toEqual({
      ok: false,
      failure: expect.objectContaining({
        kind: 'invalid_grant',
        providerError: String(code),
        status: 400,
        refusal,
      }),
    });
    expect(JSON.stringify(outcome)).not.toContain('secret-free words');
  });

  it('reads 20050 and 5xx as passing trouble, with Retry-After', () => {
    expect(answer(500, { code: 20050, error: 'server_error' }, '30')).toEqual({
      ok: false,
      failure: expect.objectContaining({ kind: 'transient', retryAfterMs: 30_000 }),
    });
    // Lark also answers some errors with HTTP 200 and a non-zero code.
    expect(answer(200, { code: 20050, error_description: 'retry' })).toMatchObject({
      failure: { kind: 'transient' },
    });
    expect(answer(502, undefined)).toMatchObject({ failure: { kind: 'transient', status: 502 } });
  });

  it('sorts other codes by their OAuth error string', () => {
    expect(answer(400, { code: 20002, error: 'invalid_client' })).toMatchObject({
      failure: { kind: 'configuration', providerError: '20002' },
    });
    expect(answer(400, { code: 29999, error: 'invalid_grant' })).toMatchObject({
      failure: { kind: 'invalid_grant', refusal: 'invalid' },
    });
  });

  it('refuses a success answer that is not one', () => {
    for (const body of [
      { code: 0 },
      { code: 0, access_token: '' },
      { code: 0, access_token: 'x', expires_in: '7200' },
      { code: 0, access_token: 'x', refresh_token: 42 },
      'not an object',
    ]) {
      expect(answer(200, body)).toMatchObject({ ok: false, failure: { kind: 'invalid_response' } });
    }
  });
});

describe('refusalOfRefresh', () => {
  const failure = (refusal?: 'expired' | 'reused' | 'revoked' | 'invalid') => ({
    kind: 'invalid_grant' as const,
    providerError: '20073',
    status: 400,
    retryAfterMs: null,
    description: 'refused',
    ...(refusal ? { refusal } : {}),
  });

  it('names each end of a grant with its own code', () => {
    expect(refusalOfRefresh('lark-calendar', failure('reused'), null).code).toBe('REFRESH_TOKEN_REUSED');
    expect(refusalOfRefresh('lark-calendar', failure('expired'), null).code).toBe('GRANT_EXPIRED');
    expect(refusalOfRefresh('lark-calendar', failure('revoked'), null).code).toBe('GRANT_REVOKED');
    expect(refusalOfRefresh('demo', failure(), null)).toEqual({
      code: 'GRANT_REVOKED',
      reason: 'demo refused the refresh token (20073): authorize again',
    });
  });

  it('says when an earlier refresh was sent and its answer never stored', () => {
    const lost = refusalOfRefresh('demo', failure('reused'), new Date(NOW));
    expect(lost.code).toBe('REFRESH_ANSWER_LOST');
    expect(lost.reason).toContain('a refresh sent with it at 2030-01-01T00:00:00.000Z got no stored answer');
    expect(lost.reason).toMatch(/authorize again$/);
  });
});
