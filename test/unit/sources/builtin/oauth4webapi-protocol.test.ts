import * as oauth from 'oauth4webapi';
import { describe, expect, it } from 'vitest';
import { OAuthRequestError } from '../../../../src/sources/builtin/map-oauth-error.js';
import type { AuthorizationServerMetadata } from '../../../../src/sources/builtin/oauth-protocol.js';
import {
  insecureRequestsFor,
  Oauth4webapiProtocol,
} from '../../../../src/sources/builtin/oauth4webapi-protocol.js';

const NEVER = new AbortController().signal;
const client = {
  clientId: 'nanoclaw',
  clientSecret: 'client-secret',
  authMethod: 'client_secret_basic' as const,
};
const server = (overrides: Partial<AuthorizationServerMetadata> = {}): AuthorizationServerMetadata => ({
  issuer: 'https://id.example.com',
  authorizationEndpoint: 'https://id.example.com/authorize',
  tokenEndpoint: 'https://id.example.com/token',
  revocationEndpoint: null,
  issParameterSupported: false,
  document: {},
  ...overrides,
});

describe('insecureRequestsFor', () => {
  it('allows plain http for loopback URLs only', () => {
    expect(insecureRequestsFor('http://127.0.0.1:4000/token')).toEqual({
      [oauth.allowInsecureRequests]: true,
    });
    expect(insecureRequestsFor('http://[::1]:4000/token')).toEqual({ [oauth.allowInsecureRequests]: true });
    expect(insecureRequestsFor('http://localhost/token')).toEqual({ [oauth.allowInsecureRequests]: true });
    expect(insecureRequestsFor('https://id.example.com/token')).toEqual({});
    expect(insecureRequestsFor('http://id.example.invalid/token')).toEqual({});
    expect(insecureRequestsFor('http://127.0.0.1.example.invalid/token')).toEqual({});
  });

  it('refuses a plain-http endpoint elsewhere before sending anything', async () => {
    const protocol = new Oauth4webapiProtocol();
    const error = await protocol
      .refresh(server({ tokenEndpoint: 'http://id.example.invalid/token' }), client, 'RT', NEVER)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OAuthRequestError);
    expect((error as OAuthRequestError).failure).toMatchObject({ kind: 'configuration' });
  });
});

describe('authorizationUrl', () => {
  it('sends PKCE S256, state and the exact redirect URI, which configured parameters cannot replace', () => {
    const url = new Oauth4webapiProtocol().authorizationUrl(server(), client, {
      redirectUri: 'http://127.0.0.1:3000/auth/oauth/google/callback',
      state: 'state-1',
      codeChallenge: 'challenge-1',
      scopes: ['openid', 'email'],
      extra: {
        access_type: 'offline',
        prompt: 'consent',
        state: 'evil',
        redirect_uri: 'https://evil.example',
      },
    });
    expect(Object.fromEntries(url.searchParams)).toEqual({
      access_type: 'offline',
      prompt: 'consent',
      client_id: 'nanoclaw',
      response_type: 'code',
      redirect_uri: 'http://127.0.0.1:3000/auth/oauth/google/callback',
      state: 'state-1',
      scope: 'openid email',
      code_challenge: 'challenge-1',
      code_challenge_method: 'S256',
    });
  });

  it('makes a verifier and its S256 challenge', async () => {
    const { verifier, challenge } = await new Oauth4webapiProtocol().createPkce();
    expect(verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(challenge).toBe(await oauth.calculatePKCECodeChallenge(verifier));
    expect(challenge).not.toBe(verifier);
  });
});
