import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BuiltinProviderConfig } from '../../../../src/config/types.js';
import { BuiltinSource } from '../../../../src/sources/builtin/builtin-source.js';
import { CredentialStore } from '../../../../src/sources/builtin/credential-store.js';
import type { OAuthProtocol, TokenResponse } from '../../../../src/sources/builtin/oauth-protocol.js';
import type { StoredGrant } from '../../../../src/sources/builtin/stored-grant.js';

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
  clientSecret: 'close-test-client-secret',
  pkce: true,
  authorizationParams: {},
  tokenEndpointAuthMethod: 'client_secret_basic',
};

const rotated: TokenResponse = {
  accessToken: 'close-test-access-new',
  tokenType: 'Bearer',
  expiresInSeconds: 3600,
  refreshToken: 'close-test-refresh-rotated',
  scope: null,
};

/**
 * A provider that rotates refresh tokens and answers a refresh when the test says. Like fetch, a
 * request fails once its signal aborts; by then the provider may already have rotated the token.
 */
function heldProtocol() {
  const refreshes: Array<{ signal: AbortSignal; answer: () => void }> = [];
  const protocol: OAuthProtocol = {
    discover: () => Promise.reject(new Error('no discovery here')),
    createState: () => 'state',
    createPkce: async () => ({ verifier: 'v', challenge: 'c' }),
    authorizationUrl: () => new URL('https://id.example.com/authorize'),
    validateCallback: (_server, _client, query) => query,
    exchangeCode: () => Promise.reject(new Error('unused')),
    refresh: (_server, _client, _refreshToken, signal) =>
      new Promise((resolve, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
        refreshes.push({ signal, answer: () => resolve(rotated) });
      }),
    clientCredentials: () => Promise.reject(new Error('unused')),
    revoke: async () => {},
  };
  return { protocol, refreshes };
}

const now = Date.parse('2030-01-01T00:00:00Z');
const expiring: StoredGrant = {
  owner: 'alice',
  provider: 'demo',
  status: 'active',
  accessToken: 'close-test-access-old',
  refreshToken: 'close-test-refresh-old',
  tokenType: 'Bearer',
  expiresAt: new Date(now + 60_000),
  scopes: null,
  authorizedAt: new Date(now - 3_600_000),
  obtainedAt: new Date(now - 3_600_000),
  lastRefreshedAt: null,
  generation: 1,
  needsAuth: null,
  refreshSentAt: null,
};

let dir: string;
let store: CredentialStore;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-builtin-close-'));
  store = new CredentialStore({ dir, encryptionKey: randomBytes(32).toString('base64'), lockTimeoutMs: 300 });
  await store.write(expiring);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function sourceWith(protocol: OAuthProtocol, closeGraceMs?: number): BuiltinSource {
  return new BuiltinSource({
    store,
    providers: [provider],
    publicUrl: 'http://127.0.0.1:3000',
    refreshMarginMs: 300_000,
    protocol,
    now: () => now,
    ...(closeGraceMs === undefined ? {} : { closeGraceMs }),
  });
}

const fetchAlice = (source: BuiltinSource, signal = new AbortController().signal) =>
  source.fetchToken({ owner: 'alice', provider, mode: 'cached', signal });

describe('BuiltinSource.close during a refresh', () => {
  it('waits for a refresh already sent and stores the rotated refresh token', async () => {
    const { protocol, refreshes } = heldProtocol();
    const source = sourceWith(protocol);
    const caller = new AbortController();
    const fetching = fetchAlice(source, caller.signal);
    await vi.waitFor(() => expect(refreshes).toHaveLength(1));
    // Shutdown: the caller stops waiting first (as the token sync does), then the source closes.
    caller.abort(new Error('shutting down'));
    await expect(fetching).rejects.toThrow('shutting down');

    const closing = source.close();
    expect(refreshes[0]!.signal.aborted).toBe(false);

    refreshes[0]!.answer();
    await closing;
    expect(await store.read('alice', 'demo')).toMatchObject({
      refreshToken: 'close-test-refresh-rotated',
      accessToken: 'close-test-access-new',
      generation: 3,
    });
  });

  it('waits no longer than its grace, then cuts the request short and keeps the old grant', async () => {
    const { protocol, refreshes } = heldProtocol();
    const source = sourceWith(protocol, 100);
    const fetching = fetchAlice(source).catch((error: unknown) => error);
    await vi.waitFor(() => expect(refreshes).toHaveLength(1));

    await source.close();

    expect(refreshes[0]!.signal.aborted).toBe(true);
    expect(await fetching).toBeInstanceOf(Error);
    // The old grant is kept, marked as having sent its refresh token without an answer stored.
    expect(await store.read('alice', 'demo')).toEqual({
      ...expiring,
      generation: 2,
      refreshSentAt: new Date(now),
    });
  });

  it('sends no new token request once closing', async () => {
    const { protocol, refreshes } = heldProtocol();
    const source = sourceWith(protocol);
    await source.close();
    await expect(fetchAlice(source)).rejects.toThrow('closed');
    expect(refreshes).toEqual([]);
    expect(await store.read('alice', 'demo')).toEqual(expiring);
  });
});
