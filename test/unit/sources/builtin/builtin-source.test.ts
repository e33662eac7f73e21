import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BuiltinProviderConfig } from '../../../../src/config/types.js';
import { BuiltinSource } from '../../../../src/sources/builtin/builtin-source.js';
import { CredentialStore } from '../../../../src/sources/builtin/credential-store.js';
import { OAuthRequestError, type OAuthFailure } from '../../../../src/sources/builtin/map-oauth-error.js';
import type { OAuthProtocol, TokenResponse } from '../../../../src/sources/builtin/oauth-protocol.js';
import type { StoredGrant } from '../../../../src/sources/builtin/stored-grant.js';
import { FileGrantRecords } from '../../../../src/store/file/file-grant-records.js';
import type { GrantRecord } from '../../../../src/store/grant-records.js';
import { StoreError } from '../../../../src/store/store-errors.js';

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

/** A protocol whose refresh answers what the test says; the rest is unused here. */
function fakeProtocol(
  refresh: (refreshToken: string) => Promise<TokenResponse>,
): OAuthProtocol & { calls: number } {
  const fake = {
    calls: 0,
    discover: () => Promise.reject(new Error('no discovery in these tests')),
    createState: () => 'state',
    createPkce: async () => ({ verifier: 'v', challenge: 'c' }),
    authorizationUrl: () => new URL('https://id.example.com/authorize'),
    validateCallback: (_server: unknown, _client: unknown, query: URLSearchParams) => query,
    exchangeCode: () => Promise.reject(new Error('unused')),
    refresh: (_server: unknown, _client: unknown, refreshToken: string) => {
      fake.calls++;
      return refresh(refreshToken);
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

let dir: string;
let key: string;
let store: CredentialStore;
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
  generation: 1,
  needsAuth: null,
  refreshSentAt: null,
};

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-source-'));
  key = randomBytes(32).toString('base64');
  store = new CredentialStore({ dir, encryptionKey: key, lockTimeoutMs: 300 });
  await store.write(expiring);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function sourceWith(protocol: OAuthProtocol, storeOverride: CredentialStore = store): BuiltinSource {
  return new BuiltinSource({
    store: storeOverride,
    providers: [provider],
    publicUrl: 'http://127.0.0.1:3000',
    refreshMarginMs: 300_000,
    protocol,
    now: () => now,
  });
}

const fetchAlice = (source: BuiltinSource, signal = NEVER) =>
  source.fetchToken({ owner: 'alice', provider, mode: 'cached', signal });

describe('BuiltinSource refresh outcomes', () => {
  it('never hands out a refreshed token whose refresh token could not be stored', async () => {
    class FailingStore extends CredentialStore {
      override async write(): Promise<void> {
        throw Object.assign(new Error('disk full'), { code: 'CREDENTIAL_STORE_WRITE_FAILED' });
      }
    }
    const source = sourceWith(
      fakeProtocol(async () => ({
        accessToken: 'AT-new',
        tokenType: 'Bearer',
        expiresInSeconds: 3600,
        refreshToken: 'RT-new',
        scope: null,
      })),
      new FailingStore({ dir, encryptionKey: key }),
    );
    await expect(fetchAlice(source)).rejects.toMatchObject({ code: 'CREDENTIAL_STORE_WRITE_FAILED' });
    expect(await store.read('alice', 'demo')).toEqual(expiring);
  });

  /** A store whose writes fail (as on a full disk) from the `from`-th one on, `count` times. */
  /** A store whose grant writes number `from` to `from + count - 1` fail (every write of a grant counts, under its lock or not). */
  function storeFailingWrites(from: number, count: number): CredentialStore & { writes: number } {
    class FlakyRecords extends FileGrantRecords {
      writes = 0;
      override async write(record: GrantRecord): Promise<void> {
        this.writes++;
        if (this.writes >= from && this.writes < from + count) {
          throw new StoreError('STORE_WRITE_FAILED', 'no space left on device');
        }
        return super.write(record);
      }
    }
    const records = new FlakyRecords({ dir: path.join(dir, 'grants') });
    const flaky = new CredentialStore({ dir, encryptionKey: key, records });
    return Object.defineProperty(flaky, 'writes', { get: () => records.writes }) as CredentialStore & {
      writes: number;
    };
  }
  const rotated = async (): Promise<TokenResponse> => ({
    accessToken: 'AT-new',
    tokenType: 'Bearer',
    expiresInSeconds: 3600,
    refreshToken: 'RT-new',
    scope: null,
  });

  it('stores a refresh answer whose first write failed, by writing it again', async () => {
    // Write 1 marks the refresh as sent; write 2 (the answer) fails once.
    const flaky = storeFailingWrites(2, 1);
    const protocol = fakeProtocol(rotated);
    expect(await fetchAlice(sourceWith(protocol, flaky))).toMatchObject({
      status: 'token',
      token: { accessToken: 'AT-new', refreshToken: 'RT-new' },
    });
    expect(protocol.calls).toBe(1);
    expect(await store.read('alice', 'demo')).toMatchObject({
      accessToken: 'AT-new',
      refreshToken: 'RT-new',
      refreshSentAt: null,
    });
  });

  it('says that the rotated refresh token could not be stored when every write fails, and keeps the mark', async () => {
    const flaky = storeFailingWrites(2, Infinity);
    const error = await fetchAlice(sourceWith(fakeProtocol(rotated), flaky)).catch(
      (caught: Error & { code: string }) => caught,
    );
    expect(error).toMatchObject({ code: 'REFRESH_TOKEN_NOT_STORED' });
    expect((error as Error).message).toMatch(/demo.*new refresh token.*could not be stored/);
    expect(JSON.stringify(error) + (error as Error).message).not.toMatch(/AT-new|RT-new/);
    expect(flaky.writes).toBeGreaterThan(2);
    // What is on disk says a refresh was sent without a stored answer: a refusal later says the grant was lost.
    expect(await store.read('alice', 'demo')).toMatchObject({
      refreshToken: 'RT-old',
      refreshSentAt: new Date(now),
    });
  });

  it('answers unavailable on transient trouble and keeps the grant', async () => {
    const source = sourceWith(
      fakeProtocol(() => Promise.reject(failure({ status: 503, retryAfterMs: 30_000 }))),
    );
    expect(await fetchAlice(source)).toEqual({
      status: 'unavailable',
      code: 'PROVIDER_UNAVAILABLE',
      reason: 'the refresh request to demo failed: the provider answered HTTP 503',
      retryAfterMs: 30_000,
    });
    // The grant is kept, marked as having sent its refresh token once without an answer stored.
    expect(await store.read('alice', 'demo')).toEqual({
      ...expiring,
      generation: 2,
      refreshSentAt: new Date(now),
    });
  });

  it('throws a configuration error when the client is rejected', async () => {
    const source = sourceWith(
      fakeProtocol(() =>
        Promise.reject(failure({ kind: 'configuration', providerError: 'invalid_client', status: 401 })),
      ),
    );
    const error = await fetchAlice(source).catch((caught: Error & { code: string }) => caught);
    expect(error).toMatchObject({ code: 'TOKEN_SOURCE_CONFIG' });
    expect((error as Error).message).toMatch(/rejected client "nanoclaw" \(invalid_client\)/);
    expect((error as Error).message).not.toContain('client-secret-value');
  });

  it('throws when the answer cannot be trusted', async () => {
    const source = sourceWith(
      fakeProtocol(() => Promise.reject(failure({ kind: 'invalid_response', description: 'not JSON' }))),
    );
    await expect(fetchAlice(source)).rejects.toMatchObject({ code: 'INVALID_SOURCE_RESPONSE' });
  });

  it('lets a caller give up while the shared refresh finishes and is kept', async () => {
    let answer!: (response: TokenResponse) => void;
    const protocol = fakeProtocol(() => new Promise((resolve) => (answer = resolve)));
    const source = sourceWith(protocol);
    const controller = new AbortController();
    const impatient = fetchAlice(source, controller.signal);
    const patient = fetchAlice(source);
    // Give up only once the shared refresh is under way (it has the lock and asked the provider).
    await vi.waitFor(() => expect(protocol.calls).toBe(1), { timeout: 30_000, interval: 10 });
    controller.abort(new Error('caller gave up'));
    await expect(impatient).rejects.toThrow('caller gave up');
    answer({
      accessToken: 'AT-new',
      tokenType: 'Bearer',
      expiresInSeconds: 3600,
      refreshToken: 'RT-new',
      scope: null,
    });
    expect(await patient).toMatchObject({
      status: 'token',
      token: { accessToken: 'AT-new', refreshToken: 'RT-new' },
    });
    expect(protocol.calls).toBe(1);
    expect(await store.read('alice', 'demo')).toMatchObject({
      accessToken: 'AT-new',
      refreshToken: 'RT-new',
      // One write marks the refresh as sent, one stores its answer.
      generation: 3,
    });
  });

  it('answers unavailable when another process holds the grant for too long', async () => {
    const held = await store.lock('alice', 'demo', NEVER);
    try {
      const protocol = fakeProtocol(() => Promise.reject(new Error('must not be called')));
      expect(await fetchAlice(sourceWith(protocol))).toMatchObject({
        status: 'unavailable',
        code: 'LOCK_TIMEOUT',
      });
      expect(protocol.calls).toBe(0);
    } finally {
      await held.release();
    }
  });

  it('answers needs_auth for an owner who never connected, without a request', async () => {
    const protocol = fakeProtocol(() => Promise.reject(new Error('must not be called')));
    const outcome = await sourceWith(protocol).fetchToken({
      owner: 'bob',
      provider,
      mode: 'refresh',
      signal: NEVER,
    });
    expect(outcome).toEqual({
      status: 'needs_auth',
      code: 'NOT_CONNECTED',
      reason: 'bob has not connected demo',
    });
    expect(protocol.calls).toBe(0);
  });

  it('drops a spent Lark refresh token the answer did not replace, and asks for authorization once the token expires', async () => {
    const lark: BuiltinProviderConfig = { ...provider, dialect: 'lark' };
    const protocol = fakeProtocol(async () => ({
      accessToken: 'AT-new',
      tokenType: 'Bearer',
      expiresInSeconds: 3600,
      refreshToken: null,
      scope: null,
    }));
    let clock = now;
    const source = new BuiltinSource({
      store,
      providers: [lark],
      publicUrl: 'http://127.0.0.1:3000',
      refreshMarginMs: 300_000,
      larkProtocol: protocol,
      now: () => clock,
    });
    const fetchLark = () =>
      source.fetchToken({ owner: 'alice', provider: lark, mode: 'cached', signal: NEVER });
    expect(await fetchLark()).toMatchObject({ status: 'token', token: { accessToken: 'AT-new' } });
    expect(await store.read('alice', 'demo')).toMatchObject({ accessToken: 'AT-new', refreshToken: null });
    clock = now + 3_600_000;
    const outcome = await fetchLark();
    expect(outcome).toMatchObject({ status: 'needs_auth', code: 'TOKEN_EXPIRED' });
    expect(outcome.status === 'needs_auth' && outcome.reason).toMatch(
      /takes each refresh token once.*authorize again/,
    );
    expect(protocol.calls).toBe(1);
  });
});
