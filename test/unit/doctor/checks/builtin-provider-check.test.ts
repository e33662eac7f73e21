import { describe, expect, it } from 'vitest';
import type { BuiltinProviderConfig } from '../../../../src/config/types.js';
import { checkBuiltinProvider } from '../../../../src/doctor/checks/builtin-provider-check.js';
import { DiscoveryError } from '../../../../src/sources/builtin/builtin-errors.js';
import { CheckTimeoutError } from '../../../../src/doctor/with-timeout.js';

const signal = new AbortController().signal;
const CLIENT_SECRET = 'client-secret-7d1e-do-not-print';

function provider(overrides: Partial<BuiltinProviderConfig> = {}): BuiltinProviderConfig {
  return {
    name: 'acme',
    source: 'builtin',
    scopes: [],
    exposeRefreshToken: false,
    grant: 'authorization_code',
    issuer: 'https://id.acme.test',
    authorizationUrl: null,
    tokenUrl: null,
    revocationUrl: null,
    clientId: 'client',
    clientSecret: CLIENT_SECRET,
    pkce: true,
    authorizationParams: {},
    tokenEndpointAuthMethod: 'client_secret_basic',
    ...overrides,
  };
}

describe('checkBuiltinProvider', () => {
  it('passes when discovery answers with a token endpoint', async () => {
    const result = await checkBuiltinProvider(
      provider(),
      async () => ({ tokenEndpoint: 'https://id.acme.test/token' }),
      signal,
    );
    expect(result).toEqual({
      name: 'builtin-source:acme',
      status: 'ok',
      message: 'discovery at https://id.acme.test answers (token endpoint https://id.acme.test/token)',
      fix: null,
    });
  });

  it('fails with the discovery problem and points at the issuer setting', async () => {
    const message =
      'cannot discover the OAuth server at https://id.acme.test: "issuer" property does not match';
    const result = await checkBuiltinProvider(
      provider(),
      async () => {
        throw new DiscoveryError(message);
      },
      signal,
    );
    expect(result).toMatchObject({ status: 'fail', message });
    expect(result.fix).toContain('providers[].issuer of "acme"');
  });

  it('fails when the issuer names no token endpoint and none is configured', async () => {
    const result = await checkBuiltinProvider(provider(), async () => ({ tokenEndpoint: null }), signal);
    expect(result).toMatchObject({
      status: 'fail',
      message: 'the issuer https://id.acme.test names no token endpoint',
    });
  });

  it('fails when the issuer cannot be reached, and never prints the client secret', async () => {
    for (const error of [
      Object.assign(new Error('fetch failed'), { code: 'ECONNREFUSED' }),
      new CheckTimeoutError(5000),
    ]) {
      const result = await checkBuiltinProvider(provider(), async () => Promise.reject(error), signal);
      expect(result.status).toBe('fail');
      expect(result.message).toMatch(
        /^cannot reach the issuer https:\/\/id\.acme\.test \((ECONNREFUSED|no answer within 5s)\)$/,
      );
      expect(JSON.stringify(result)).not.toContain(CLIENT_SECRET);
    }
  });

  it('has nothing to discover for providers with fixed endpoints', async () => {
    const result = await checkBuiltinProvider(
      provider({
        issuer: null,
        authorizationUrl: 'https://gh.test/authorize',
        tokenUrl: 'https://gh.test/token',
      }),
      async () => {
        throw new Error('must not be called');
      },
      signal,
    );
    expect(result).toMatchObject({ status: 'ok' });
    expect(result.message).toContain('https://gh.test/token');
  });
});
