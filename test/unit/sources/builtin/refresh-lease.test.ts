import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BuiltinProviderConfig } from '../../../../src/config/types.js';
import { BuiltinSource } from '../../../../src/sources/builtin/builtin-source.js';
import { CredentialStore } from '../../../../src/sources/builtin/credential-store.js';
import { OAuthRequestError, type OAuthFailure } from '../../../../src/sources/builtin/map-oauth-error.js';
import type { OAuthProtocol, TokenResponse } from '../../../../src/sources/builtin/oauth-protocol.js';
import type { StoredGrant } from '../../../../src/sources/builtin/stored-grant.js';

const NEVER = new AbortController().signal;
const provider: BuiltinProviderConfig = {
  name: 'demo',
  source: 'builtin',
  scopes: ['demo:read'],
  exposeRefreshToken: false,
  grant: 'authorization_code',
  issuer: null,
  authorizationUrl: 'https://id.example.com/authorize',
  tokenUrl: 'https://id.example.com/token',
  revocationUrl: null,
  clientId: 'nanoclaw',
  clientSecret: 'client-secret-value',
  pkce: true,
  authorizationParams: {},
  tokenEndpointAuthMethod: 'client_secret_basic',
};

/** A protocol whose refresh answers what the test says, counting the refresh tokens it was sent. */
function fakeProtocol(refresh: () => Promise<TokenResponse>): OAuthProtocol & { sent: string[] } {
  const fake = {
    sent: [] as string[],
    discover: () => Promise.reject(new Error('no discovery in these tests')),
    createState: () => 'state',
    createPkce: async () => ({ verifier: 'v', challenge: 'c' }),
    authorizationUrl: () => new URL('https://id.example.com/authorize'),
    validateCallback: (_server: unknown, _client: unknown, query: URLSearchParams) => query,
    exchangeCode: () => Promise.reject(new Error('unused')),
    refresh: (_server: unknown, _client: unknown, refreshToken: string) => {
      fake.sent.push(refreshToken);
      return refresh();
    },
    clientCredentials: () => Promise.reject(new Error('unused')),
    revoke: async () => {},
  };
  return fake;
}

const failure = (overrides: Partial<OAuthFailure>): OAuthRequestError =>
  new OAuthRequestError({
    kind: 'transient',
    providerError: null,
    status: null,
    retryAfterMs: null,
    description: 'the provider answered HTTP 503',
    ...overrides,
  });
const reused = () =>
  Promise.reject(
    failure({ kind: 'invalid_grant', status: 400, providerError: 'invalid_grant', refusal: 'reused' }),
  );
const rotated = async (): Promise<TokenResponse> => ({
  accessToken: 'AT-new',
  tokenType: 'Bearer',
  expiresInSeconds: 3600,
  refreshToken: 'RT-new',
  scope: null,
});

let dir: string;
let store: CredentialStore;
let clock: number;
const now = Date.parse('2030-01-01T00:00:00Z');
const expiring: StoredGrant = {
  owner: 'alice',
  provider: 'demo',
  status: 'active',
  accessToken: 'AT-old',
  refreshToken: 'RT-old',
  tokenType: 'Bearer',
  expiresAt: new Date(now + 60_000),
  scopes: null,
  authorizedAt: new Date(now - 3_600_000),
  obtainedAt: new Date(now - 3_600_000),
  lastRefreshedAt: null,
  generation: 4,
  needsAuth: null,
  refreshSentAt: null,
};

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-lease-'));
  store = new CredentialStore({ dir, encryptionKey: randomBytes(32).toString('base64'), lockTimeoutMs: 300 });
  clock = now;
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function sourceWith(protocol: OAuthProtocol): BuiltinSource {
  return new BuiltinSource({
    store,
    providers: [provider],
    publicUrl: 'http://127.0.0.1:3000',
    refreshMarginMs: 300_000,
    protocol,
    now: () => clock,
  });
}
const fetchAlice = (source: BuiltinSource) =>
  source.fetchToken({ owner: 'alice', provider, mode: 'cached', signal: NEVER });

describe('a refresh sent by another process is a lease on the refresh token', () => {
  it('does not send the refresh token while another process may still be waiting for its answer', async () => {
    // Another host marked the refresh as sent 5 s ago, then lost its lock (its answer may still come).
    const marked = { ...expiring, refreshSentAt: new Date(now - 5_000) };
    await store.write(marked);
    const protocol = fakeProtocol(rotated);
    const outcome = await fetchAlice(sourceWith(protocol));
    expect(outcome).toMatchObject({ status: 'unavailable', code: 'REFRESH_IN_PROGRESS' });
    expect(outcome.status === 'unavailable' && outcome.retryAfterMs).toBeGreaterThan(0);
    expect(outcome.status === 'unavailable' && outcome.retryAfterMs).toBeLessThanOrEqual(5_000);
    expect(protocol.sent).toEqual([]);
    expect(await store.read('alice', 'demo')).toEqual(marked);
  });

  it('uses the answer the first sender stored meanwhile', async () => {
    await store.write({ ...expiring, refreshSentAt: new Date(now - 5_000) });
    const source = sourceWith(fakeProtocol(rotated));
    expect(await fetchAlice(source)).toMatchObject({ code: 'REFRESH_IN_PROGRESS' });
    // The first sender's answer arrives and is stored.
    await store.write({
      ...expiring,
      accessToken: 'AT-theirs',
      refreshToken: 'RT-theirs',
      expiresAt: new Date(now + 3_600_000),
      obtainedAt: new Date(now),
      generation: 6,
    });
    expect(await fetchAlice(source)).toMatchObject({ status: 'token', token: { accessToken: 'AT-theirs' } });
  });

  it('sends once the lease has run out, and names a refusal as the lost answer', async () => {
    await store.write({ ...expiring, refreshSentAt: new Date(now - 5_000) });
    const protocol = fakeProtocol(reused);
    clock = now + 60_000 - 5_000 - 1;
    // Still expiring, lease over (a minute after the mark): the token is sent.
    const outcome = await fetchAlice(sourceWith(protocol));
    expect(protocol.sent).toEqual(['RT-old']);
    expect(outcome).toMatchObject({ status: 'needs_auth', code: 'REFRESH_ANSWER_LOST' });
  });

  it('sends again at once after its own request ended without a usable answer', async () => {
    await store.write(expiring);
    let answer: () => Promise<TokenResponse> = () => Promise.reject(failure({ status: 503 }));
    const protocol = fakeProtocol(() => answer());
    const source = sourceWith(protocol);
    expect(await fetchAlice(source)).toMatchObject({ status: 'unavailable', code: 'PROVIDER_UNAVAILABLE' });
    answer = rotated;
    expect(await fetchAlice(source)).toMatchObject({ status: 'token', token: { accessToken: 'AT-new' } });
    expect(protocol.sent).toEqual(['RT-old', 'RT-old']);
  });

  it('does not overwrite a grant another process changed after the read (the write is fenced)', async () => {
    await store.write(expiring);
    class RacedStore extends CredentialStore {
      #raced = false;
      override async write(grant: StoredGrant, replacing?: number | null): Promise<void> {
        if (!this.#raced && grant.refreshSentAt) {
          // Another host (whose lock this one could not see) refreshed just before this mark.
          this.#raced = true;
          await store.write({ ...expiring, accessToken: 'AT-theirs', generation: 5 }, 4);
        }
        return super.write(grant, replacing);
      }
    }
    const raced = new RacedStore({ dir, encryptionKey: null, records: store.records });
    Object.defineProperty(raced, 'open', { value: () => store.open() });
    const protocol = fakeProtocol(rotated);
    const outcome = await fetchAlice(
      new BuiltinSource({
        store: raced,
        providers: [provider],
        publicUrl: 'http://127.0.0.1:3000',
        refreshMarginMs: 300_000,
        protocol,
        now: () => clock,
      }),
    );
    expect(outcome).toMatchObject({ status: 'unavailable', code: 'GRANT_CHANGED' });
    expect(protocol.sent).toEqual([]);
    expect(await store.read('alice', 'demo')).toMatchObject({ accessToken: 'AT-theirs', generation: 5 });
  });
});
