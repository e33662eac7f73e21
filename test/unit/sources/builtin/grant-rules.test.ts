import { describe, expect, it } from 'vitest';
import { applyConfiguredEndpoints } from '../../../../src/sources/builtin/authorization-servers.js';
import { builtinCallbackUrl, builtinStartUrl } from '../../../../src/sources/builtin/builtin-urls.js';
import {
  applyTokenResponse,
  markNeedsAuth,
  needsRenewal,
} from '../../../../src/sources/builtin/grant-rules.js';
import type { StoredGrant } from '../../../../src/sources/builtin/stored-grant.js';

const T0 = Date.parse('2030-01-01T00:00:00Z');
const grant: StoredGrant = {
  owner: 'alice',
  provider: 'demo',
  status: 'active',
  accessToken: 'AT',
  refreshToken: 'RT',
  tokenType: 'Bearer',
  expiresAt: new Date(T0 + 3_600_000),
  scopes: ['demo:read'],
  authorizedAt: new Date(T0),
  obtainedAt: new Date(T0),
  lastRefreshedAt: null,
  generation: 1,
  needsAuth: null,
  refreshSentAt: null,
};
const policy = { marginMs: 300_000, force: false, forceMinAgeMs: 10_000 };

describe('needsRenewal', () => {
  it('renews inside the margin only', () => {
    expect(needsRenewal(grant, { ...policy, now: T0 + 3_300_000 - 1 })).toBe(false);
    expect(needsRenewal(grant, { ...policy, now: T0 + 3_300_000 })).toBe(true);
    expect(needsRenewal({ ...grant, expiresAt: null }, { ...policy, now: T0 + 10 * 3_600_000 })).toBe(false);
    expect(needsRenewal({ ...grant, accessToken: null }, { ...policy, now: T0 })).toBe(true);
  });

  it('waits for half the life of a token shorter than the margin', () => {
    const shortLived = { ...grant, expiresAt: new Date(T0 + 60_000) };
    expect(needsRenewal(shortLived, { ...policy, now: T0 + 29_000 })).toBe(false);
    expect(needsRenewal(shortLived, { ...policy, now: T0 + 30_000 })).toBe(true);
  });

  it('forces a renewal unless the token is only seconds old', () => {
    expect(needsRenewal(grant, { ...policy, force: true, now: T0 + 9_999 })).toBe(false);
    expect(needsRenewal(grant, { ...policy, force: true, now: T0 + 10_000 })).toBe(true);
  });
});

describe('applyTokenResponse', () => {
  const response = {
    accessToken: 'AT2',
    tokenType: 'Bearer',
    expiresInSeconds: 60,
    refreshToken: null,
    scope: null,
  };

  it('keeps the refresh token and scopes a refresh did not replace', () => {
    const next = applyTokenResponse({
      previous: grant,
      response,
      owner: 'alice',
      provider: 'demo',
      via: 'refreshed',
      dialect: 'oauth2',
      now: new Date(T0 + 1000),
    });
    expect(next).toEqual({
      ...grant,
      accessToken: 'AT2',
      expiresAt: new Date(T0 + 61_000),
      obtainedAt: new Date(T0 + 1000),
      lastRefreshedAt: new Date(T0 + 1000),
      generation: 2,
    });
  });

  it('drops a Lark refresh token a refresh did not replace: each one works once', () => {
    const next = applyTokenResponse({
      previous: grant,
      response,
      owner: 'alice',
      provider: 'demo',
      via: 'refreshed',
      dialect: 'lark',
      now: new Date(T0 + 1000),
    });
    expect(next).toMatchObject({
      status: 'active',
      accessToken: 'AT2',
      refreshToken: null,
      scopes: ['demo:read'],
    });
  });

  it('takes a rotated refresh token and granted scopes', () => {
    const next = applyTokenResponse({
      previous: grant,
      response: { ...response, refreshToken: 'RT2', scope: 'demo:read demo:write', expiresInSeconds: null },
      owner: 'alice',
      provider: 'demo',
      via: 'refreshed',
      dialect: 'lark',
      now: new Date(T0),
    });
    expect(next).toMatchObject({ refreshToken: 'RT2', scopes: ['demo:read', 'demo:write'], expiresAt: null });
  });

  it('starts over on a new authorization, keeping only the generation count', () => {
    const needsAuth = markNeedsAuth(grant, 'GRANT_REVOKED', 'refused', new Date(T0));
    expect(needsAuth).toMatchObject({
      status: 'needs_auth',
      accessToken: null,
      refreshToken: null,
      generation: 2,
    });
    const next = applyTokenResponse({
      previous: needsAuth,
      response,
      owner: 'alice',
      provider: 'demo',
      via: 'authorized',
      dialect: 'oauth2',
      now: new Date(T0 + 5000),
    });
    expect(next).toMatchObject({
      status: 'active',
      refreshToken: null,
      scopes: null,
      needsAuth: null,
      generation: 3,
      authorizedAt: new Date(T0 + 5000),
      lastRefreshedAt: null,
    });
  });
});

describe('endpoints and routes', () => {
  it('lets configured URLs win over discovered ones', () => {
    const discovered = {
      issuer: 'https://id.example.com',
      authorizationEndpoint: 'https://id.example.com/authorize',
      tokenEndpoint: 'https://id.example.com/token',
      revocationEndpoint: null,
      issParameterSupported: true,
      document: {},
    };
    expect(
      applyConfiguredEndpoints(discovered, {
        authorizationUrl: null,
        tokenUrl: 'https://id.example.com/v2/token',
        revocationUrl: null,
      }),
    ).toEqual({ ...discovered, tokenEndpoint: 'https://id.example.com/v2/token' });
    expect(
      applyConfiguredEndpoints(null, {
        authorizationUrl: 'https://github.com/login/oauth/authorize',
        tokenUrl: 'https://github.com/login/oauth/access_token',
        revocationUrl: null,
      }),
    ).toMatchObject({ issuer: 'https://github.com', issParameterSupported: false });
  });

  it('builds the start and callback URLs from the public URL', () => {
    expect(builtinCallbackUrl('http://127.0.0.1:3000/', 'google-calendar')).toBe(
      'http://127.0.0.1:3000/auth/oauth/google-calendar/callback',
    );
    expect(builtinStartUrl('https://claw.example.com', 'demo', 'team.a')).toBe(
      'https://claw.example.com/auth/oauth/demo/start?owner=team.a',
    );
  });
});
