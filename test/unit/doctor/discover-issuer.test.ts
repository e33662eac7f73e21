import { describe, expect, it } from 'vitest';
import { DiscoveryError } from '../../../src/doctor/checks/builtin-provider-check.js';
import { discoverIssuer, validateMetadata } from '../../../src/doctor/discover-issuer.js';

const signal = new AbortController().signal;

function fakeFetch(routes: Record<string, Response | (() => Response)>): {
  fetch: typeof fetch;
  asked: string[];
} {
  const asked: string[] = [];
  const fetchImpl = (async (input: string | URL | Request) => {
    const url = String(input);
    asked.push(url);
    const route = routes[url];
    if (!route) return new Response('not found', { status: 404 });
    return typeof route === 'function' ? route() : route;
  }) as typeof fetch;
  return { fetch: fetchImpl, asked };
}

const json = (body: unknown) =>
  new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } });

describe('discoverIssuer', () => {
  it('reads OpenID Connect discovery', async () => {
    const { fetch } = fakeFetch({
      'https://id.test/realm/.well-known/openid-configuration': json({
        issuer: 'https://id.test/realm',
        token_endpoint: 'https://id.test/t',
      }),
    });
    await expect(discoverIssuer('https://id.test/realm/', signal, fetch)).resolves.toEqual({
      tokenEndpoint: 'https://id.test/t',
    });
  });

  it('falls back to RFC 8414 metadata when there is no OpenID document', async () => {
    const { fetch, asked } = fakeFetch({
      'https://as.test/.well-known/oauth-authorization-server': json({
        issuer: 'https://as.test',
        token_endpoint: 'https://as.test/t',
      }),
    });
    await expect(discoverIssuer('https://as.test', signal, fetch)).resolves.toEqual({
      tokenEndpoint: 'https://as.test/t',
    });
    expect(asked).toEqual([
      'https://as.test/.well-known/openid-configuration',
      'https://as.test/.well-known/oauth-authorization-server',
    ]);
  });

  it('fails when neither document exists, or the server errs, or the body is not JSON', async () => {
    await expect(discoverIssuer('https://none.test', signal, fakeFetch({}).fetch)).rejects.toBeInstanceOf(
      DiscoveryError,
    );
    const erring = fakeFetch({
      'https://e.test/.well-known/openid-configuration': new Response('x', { status: 500 }),
    });
    await expect(discoverIssuer('https://e.test', signal, erring.fetch)).rejects.toThrow('HTTP 500');
    const garbled = fakeFetch({ 'https://g.test/.well-known/openid-configuration': new Response('<html>') });
    await expect(discoverIssuer('https://g.test', signal, garbled.fetch)).rejects.toThrow('is not JSON');
  });
});

describe('validateMetadata', () => {
  it('wants the same issuer and a token endpoint, and never echoes the document', () => {
    expect(() =>
      validateMetadata({ issuer: 'https://evil.test', token_endpoint: 'x' }, 'https://id.test', 'doc'),
    ).toThrow('doc: issuer does not match the configured issuer');
    expect(() => validateMetadata({ issuer: 'https://id.test/' }, 'https://id.test', 'doc')).toThrow(
      'token_endpoint is missing',
    );
    expect(() => validateMetadata(['secret-value'], 'https://id.test', 'doc')).toThrow(
      'doc: expected a JSON object',
    );
  });
});
