import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newBrowserBinding } from '../../../src/sources/builtin/pending-authorizations.js';
import { startTestOidcServer, type DemoOAuthServer } from '../../support/oidc-server.js';
import {
  builtinProvider,
  builtinSource,
  connectOwner,
  DEMO_CALLBACK,
  demoConfig,
  expectNoSecrets,
  NEVER,
  temporaryDataDir,
  thrown,
} from './fixture.js';

let server: DemoOAuthServer;

beforeAll(async () => {
  server = await startTestOidcServer({ redirectUris: [DEMO_CALLBACK] });
});
afterAll(() => server.close());

const newKey = () => randomBytes(32).toString('base64');

describe('the encrypted credential store', () => {
  it('refuses to read with another key, says so, and leaves the file alone', async () => {
    await using data = await temporaryDataDir();
    const rightKey = newKey();
    const config = demoConfig(server, { dataDir: data.dir, encryptionKey: rightKey });
    const source = builtinSource(config);
    await connectOwner(source, 'alice');
    const grantFile = source.store.grantFile('alice', 'demo');
    const before = await readFile(grantFile);
    const stored = (await source.store.read('alice', 'demo'))!;

    const wrongKey = newKey();
    const wrong = builtinSource(demoConfig(server, { dataDir: data.dir, encryptionKey: wrongKey }));
    const provider = builtinProvider(config, 'demo');
    const error = await thrown(wrong.fetchToken({ owner: 'alice', provider, mode: 'cached', signal: NEVER }));
    expect(error.code).toBe('CREDENTIAL_STORE_UNREADABLE');
    expect(error.message).toContain(grantFile);
    expect(error.message).toMatch(/encrypted with another key .*NANOCLAW_ENCRYPTION_KEY/);
    expect(await readFile(grantFile)).toEqual(before);
    expectNoSecrets(
      [error.message, JSON.stringify(error)],
      [rightKey, wrongKey, stored.accessToken, stored.refreshToken],
    );

    // The right key still reads it.
    expect(
      await source.fetchToken({ owner: 'alice', provider, mode: 'cached', signal: NEVER }),
    ).toMatchObject({
      status: 'token',
      token: { accessToken: stored.accessToken },
    });
    await Promise.all([source.close(), wrong.close()]);
  });

  it('refuses a file whose ciphertext was changed, and one that is not JSON', async () => {
    await using data = await temporaryDataDir();
    const config = demoConfig(server, { dataDir: data.dir });
    const source = builtinSource(config);
    await connectOwner(source, 'alice');
    const grantFile = source.store.grantFile('alice', 'demo');
    const record = JSON.parse(await readFile(grantFile, 'utf8'));
    const [format, iv, ciphertext, tag] = record.access_token.split('.');
    const flipped = Buffer.from(ciphertext, 'base64url');
    flipped[0]! ^= 1;
    record.access_token = [format, iv, flipped.toString('base64url'), tag].join('.');
    await writeFile(grantFile, JSON.stringify(record));
    const tampered = await thrown(source.store.read('alice', 'demo'));
    expect(tampered.code).toBe('CREDENTIAL_STORE_UNREADABLE');
    expect(tampered.message).toMatch(/access_token cannot be decrypted/);

    await writeFile(grantFile, '{"format": "nanoclaw-grant/1", ');
    const damaged = await thrown(source.store.read('alice', 'demo'));
    expect(damaged.code).toBe('CREDENTIAL_STORE_UNREADABLE');
    expect(damaged.message).toMatch(/not valid JSON/);
    await source.close();
  });

  it('gives a clear error for a malformed key and for a key file others can read', async () => {
    await using data = await temporaryDataDir();
    const shortKey = randomBytes(16).toString('base64');
    const config = demoConfig(server, { dataDir: data.dir, encryptionKey: shortKey });
    const source = builtinSource(config);
    const provider = builtinProvider(config, 'demo');
    const malformed = await thrown(
      source.fetchToken({ owner: 'alice', provider, mode: 'cached', signal: NEVER }),
    );
    expect(malformed.code).toBe('ENCRYPTION_KEY_INVALID');
    expect(malformed.message).toBe(
      'NANOCLAW_ENCRYPTION_KEY: expected 32 bytes in base64, got 16 (create one with "openssl rand -base64 32")',
    );
    expectNoSecrets([malformed.message], [shortKey]);

    const fromFile = builtinSource(demoConfig(server, { dataDir: data.dir }));
    await fromFile.store.open();
    await chmod(fromFile.store.keyFile, 0o644);
    const exposed = await thrown(
      builtinSource(demoConfig(server, { dataDir: data.dir })).store.read('alice', 'demo'),
    );
    expect(exposed.code).toBe('ENCRYPTION_KEY_INVALID');
    expect(exposed.message).toMatch(/readable by others \(mode 644\): run "chmod 600/);
    await Promise.all([source.close(), fromFile.close()]);
  });
});

describe('discovery', () => {
  it('answers unavailable with DISCOVERY_FAILED naming the issuer when nothing listens there', async () => {
    await using data = await temporaryDataDir();
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadIssuer = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const config = demoConfig(server, {
      dataDir: data.dir,
      providers: [
        { name: 'dead', issuer: deadIssuer, clientId: 'client', clientSecret: 'secret-of-dead' },
        {
          name: 'dead-service',
          grant: 'client_credentials',
          issuer: deadIssuer,
          clientId: 'service',
          clientSecret: 'secret-of-dead-service',
        },
      ],
    });
    const source = builtinSource(config);
    const outcome = await source.fetchToken({
      owner: 'alice',
      provider: builtinProvider(config, 'dead-service'),
      mode: 'cached',
      signal: NEVER,
    });
    expect(outcome).toEqual({
      status: 'unavailable',
      code: 'DISCOVERY_FAILED',
      reason: `cannot discover the OAuth server at ${deadIssuer}: cannot reach the provider (ECONNREFUSED)`,
      retryAfterMs: null,
    });
    const begin = await thrown(
      source.beginAuthorization({
        owner: 'alice',
        provider: 'dead',
        browserBinding: newBrowserBinding(),
        signal: NEVER,
      }),
    );
    expect(begin.code).toBe('DISCOVERY_FAILED');
    expect(begin.message).toContain(deadIssuer);
    await source.close();
  });

  it('says what the issuer answered when it has no metadata', async () => {
    await using data = await temporaryDataDir();
    const paths: string[] = [];
    const notFound = createServer((request, response) => {
      paths.push(request.url ?? '');
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not here');
    });
    await new Promise<void>((resolve) => notFound.listen(0, '127.0.0.1', resolve));
    try {
      const issuer = `http://127.0.0.1:${(notFound.address() as AddressInfo).port}/tenant`;
      const config = demoConfig(server, {
        dataDir: data.dir,
        providers: [
          {
            name: 'nowhere',
            grant: 'client_credentials',
            issuer,
            clientId: 'service',
            clientSecret: 'secret-of-nowhere',
          },
        ],
      });
      const source = builtinSource(config);
      const outcome = await source.fetchToken({
        owner: 'alice',
        provider: builtinProvider(config, 'nowhere'),
        mode: 'cached',
        signal: NEVER,
      });
      expect(outcome).toMatchObject({
        status: 'unavailable',
        code: 'DISCOVERY_FAILED',
        reason: `cannot discover the OAuth server at ${issuer}: the provider answered HTTP 404`,
      });
      // OpenID Connect discovery first, then RFC 8414.
      expect(paths).toEqual([
        '/tenant/.well-known/openid-configuration',
        '/.well-known/oauth-authorization-server/tenant',
      ]);
      await source.close();
    } finally {
      notFound.closeAllConnections();
      await new Promise<void>((resolve) => notFound.close(() => resolve()));
    }
  });
});
