import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createSecureServer, Server as SecureServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { ProviderAnswerError } from '../../../../src/sources/builtin/builtin-errors.js';
import { LarkProtocol } from '../../../../src/sources/builtin/lark-protocol.js';
import { classifyOAuthFailure, OAuthRequestError } from '../../../../src/sources/builtin/map-oauth-error.js';
import { Oauth4webapiProtocol } from '../../../../src/sources/builtin/oauth4webapi-protocol.js';
import type { AuthorizationServerMetadata } from '../../../../src/sources/builtin/oauth-protocol.js';
import { ProviderHttp } from '../../../../src/sources/builtin/provider-fetch.js';

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('../../../support/provider-fetch-child.ts', import.meta.url));

interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

interface TestServer {
  url: string;
  server: Server;
  connections: number;
  requests: SeenRequest[];
}

type Handler = (request: IncomingMessage, response: ServerResponse, body: string) => void;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function client(options: ConstructorParameters<typeof ProviderHttp>[0] = {}): ProviderHttp {
  const made = new ProviderHttp(options);
  cleanups.push(() => made.close());
  return made;
}

async function serve(handler: Handler, server: Server = createServer()): Promise<TestServer> {
  const state: TestServer = { url: '', server, connections: 0, requests: [] };
  server.keepAliveTimeout = 30_000;
  server.on('connection', () => (state.connections += 1));
  server.on('secureConnection', () => (state.connections += 1));
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      state.requests.push({ method: request.method!, url: request.url!, headers: request.headers, body });
      handler(request, response, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const scheme = server instanceof SecureServer ? 'https' : 'http';
  state.url = `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return state;
}

const json = (response: ServerResponse, status: number, value: unknown) =>
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));

/** A port nothing listens on: one that was just free. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const openConnections = (server: Server) =>
  new Promise<number>((resolve, reject) =>
    server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );

/** A CA and a certificate for 127.0.0.1 signed by it, in `dir` (ca.pem, server.key, server.pem). */
async function makeCertificates(dir: string): Promise<void> {
  const openssl = (args: string) => run('openssl', args.split(' '), { cwd: dir });
  const key = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';
  await openssl(
    `req -x509 ${key} -keyout ca.key -out ca.pem -days 1 -subj /CN=nanoclaw-test-ca ` +
      '-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign',
  );
  await openssl(`req ${key} -keyout server.key -out server.csr -subj /CN=127.0.0.1`);
  await writeFile(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
  await openssl(
    'x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 -extfile server.ext',
  );
}

const errorOf = (work: Promise<unknown>) =>
  work.then(
    () => null,
    (caught: unknown) => caught,
  );

describe('ProviderHttp.fetch', () => {
  it('sends what fetch sends for a form POST and answers a global Response', async () => {
    const provider = await serve((_request, response) => json(response, 200, { ok: true }));
    const response = await client().fetch(`${provider.url}/token?x=1`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'x-extra': 'yes' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'RT' }),
    });
    expect(response).toBeInstanceOf(Response);
    expect(response.status).toBe(200);
    expect(response.statusText).toBe('OK');
    expect(await response.json()).toEqual({ ok: true });
    const [seen] = provider.requests;
    expect(seen).toMatchObject({
      method: 'POST',
      url: '/token?x=1',
      body: 'grant_type=refresh_token&refresh_token=RT',
    });
    expect(seen!.headers).toMatchObject({
      'x-extra': 'yes',
      'content-type': 'application/x-www-form-urlencoded;charset=UTF-8',
      'content-length': '41',
      accept: '*/*',
      'user-agent': 'node',
    });
  });

  it('takes headers as Headers or entries, keeps a given user-agent, and sends string and byte bodies', async () => {
    const provider = await serve((_request, response) => response.end());
    const fetch = client().fetch;
    await fetch(provider.url, {
      method: 'post',
      headers: new Headers({ 'user-agent': 'oauth4webapi/v3', accept: 'application/json' }),
      body: '{"a":"é"}',
    });
    await fetch(provider.url, { method: 'PUT', headers: [['content-type', 'application/octet-stream']] });
    await fetch(provider.url, { method: 'POST', body: new Uint8Array([1, 2, 3]) });
    expect(provider.requests.map(({ method, headers, body }) => ({ method, headers, body }))).toMatchObject([
      {
        method: 'POST',
        body: '{"a":"é"}',
        headers: {
          'user-agent': 'oauth4webapi/v3',
          accept: 'application/json',
          'content-type': 'text/plain;charset=UTF-8',
          'content-length': '10',
        },
      },
      { method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'content-length': '0' } },
      { method: 'POST', headers: { 'content-length': '3' } },
    ]);
    expect(provider.requests[2]!.headers['content-type']).toBeUndefined();
  });

  it('answers a 3xx as it is and never follows it', async () => {
    const provider = await serve((request, response) => {
      if (request.url === '/token') response.writeHead(302, { location: '/elsewhere' }).end('moved');
      else json(response, 200, { followed: true });
    });
    const response = await client().fetch(`${provider.url}/token`, { method: 'POST', redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/elsewhere');
    expect(provider.requests.map((request) => request.url)).toEqual(['/token']);
    await expect(
      client().fetch(provider.url, { redirect: 'follow' } as unknown as { redirect: 'manual' }),
    ).rejects.toThrow(/never follow redirects/);
  });

  it('keeps repeated headers apart (set-cookie) and joined (others), and a 204 without a body', async () => {
    const provider = await serve((request, response) => {
      if (request.url === '/empty') {
        response.writeHead(204).end();
        return;
      }
      response.setHeader('set-cookie', ['a=1', 'b=2']);
      response.setHeader('x-multi', ['one', 'two']);
      response.setHeader('retry-after', '7');
      response.writeHead(429).end('slow down');
    });
    const response = await client().fetch(provider.url);
    expect(response.status).toBe(429);
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(response.headers.get('x-multi')).toBe('one, two');
    expect(response.headers.get('retry-after')).toBe('7');
    expect(await response.text()).toBe('slow down');
    const empty = await client().fetch(`${provider.url}/empty`);
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
  });

  it('reuses a kept-alive connection for the next request, and close() ends it', async () => {
    const provider = await serve((_request, response) => json(response, 200, {}));
    const http = client();
    for (let index = 0; index < 5; index += 1) {
      await (await http.fetch(provider.url, { method: 'POST', body: 'x' })).text();
    }
    await Promise.all([http.fetch(provider.url), http.fetch(provider.url)]);
    expect(provider.requests).toHaveLength(7);
    expect(provider.connections).toBe(2);
    http.close();
    await expect.poll(() => openConnections(provider.server)).toBe(0);
  });

  it('closes a socket left idle, but never cuts a slow answer on a busy one', async () => {
    const provider = await serve((_request, response) => setTimeout(() => json(response, 200, {}), 300));
    const http = client({ idleSocketMs: 100 });
    const response = await http.fetch(provider.url, { method: 'POST' });
    expect(response.status).toBe(200);
    expect(provider.connections).toBe(1);
    await expect.poll(() => openConnections(provider.server)).toBe(0);
  });

  it('keeps an idle socket of the process-wide client open without holding the process', async () => {
    const provider = await serve((_request, response) => json(response, 200, {}));
    const { stdout } = await run(process.execPath, ['--import', 'tsx', CHILD, provider.url, 'shared']);
    expect(stdout.trim().split('\n')).toEqual(['status 200', 'sockets holding the process 0']);
    expect(provider.connections).toBe(1);
  });

  it('rejects with the reason of a signal aborted before the request, sending nothing', async () => {
    const provider = await serve((_request, response) => json(response, 200, {}));
    const controller = new AbortController();
    const reason = new Error('stopped');
    controller.abort(reason);
    expect(await errorOf(client().fetch(provider.url, { signal: controller.signal }))).toBe(reason);
    expect(provider.connections).toBe(0);
  });

  it('aborts a request under way: the socket is destroyed and the promise rejects with the reason', async () => {
    let closed: () => void;
    const requestClosed = new Promise<void>((resolve) => (closed = resolve));
    const provider = await serve((_request, response) => response.on('close', () => closed()));
    const controller = new AbortController();
    const pending = errorOf(client().fetch(provider.url, { method: 'POST', signal: controller.signal }));
    while (provider.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();
    const error = await pending;
    expect(error).toBe(controller.signal.reason);
    expect((error as Error).name).toBe('AbortError');
    await requestClosed;
  });

  it('fails on a timeout signal with the TimeoutError the classification knows', async () => {
    const provider = await serve(() => undefined);
    const error = await errorOf(client().fetch(provider.url, { signal: AbortSignal.timeout(50) }));
    expect((error as Error).name).toBe('TimeoutError');
    expect(classifyOAuthFailure(error, Date.now())).toMatchObject({
      kind: 'transient',
      description: 'the provider did not answer in time',
    });
  });

  it('refuses an answer over the limit, declared or streamed, as an invalid response', async () => {
    const oneMiB = 1024 * 1024;
    const provider = await serve((request, response) => {
      if (request.url === '/declared') {
        response.writeHead(200, { 'content-length': String(oneMiB + 1) });
        response.write('x');
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(Buffer.alloc(oneMiB + 1, 'x'));
    });
    for (const url of [`${provider.url}/declared`, `${provider.url}/streamed`]) {
      const error = await errorOf(client().fetch(url));
      expect(error).toBeInstanceOf(ProviderAnswerError);
      expect(error).toMatchObject({
        code: 'PROVIDER_ANSWER_REFUSED',
        message: "the provider's answer is over 1 MiB and was not read",
      });
      expect(classifyOAuthFailure(error, Date.now())).toMatchObject({ kind: 'invalid_response' });
    }
    const small = await errorOf(client({ maxAnswerBytes: 10 }).fetch(`${provider.url}/streamed`));
    expect((small as Error).message).toBe("the provider's answer is over 10 bytes and was not read");
  });

  it('refuses a status HTTP does not have as an invalid response', async () => {
    const provider = await serve((request) =>
      request.socket.end('HTTP/1.1 999 Odd\r\ncontent-length: 0\r\n\r\n'),
    );
    const error = await errorOf(client().fetch(provider.url));
    expect(error).toMatchObject({
      code: 'PROVIDER_ANSWER_REFUSED',
      message: 'the provider answered with HTTP status 999, which HTTP does not have',
    });
    expect(classifyOAuthFailure(error, Date.now())).toMatchObject({ kind: 'invalid_response' });
  });

  it('fails a refused connection as fetch does, classified as never sent', async () => {
    const error = await errorOf(client().fetch(`http://127.0.0.1:${await closedPort()}/token`));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe('fetch failed');
    expect((error as { cause: { code: string } }).cause.code).toBe('ECONNREFUSED');
    expect(classifyOAuthFailure(error, Date.now())).toMatchObject({ kind: 'transient', notSent: true });
  });

  it('fails a connection cut after the request was sent as a network error that may have been spent', async () => {
    const provider = await serve((request) => request.socket.destroy());
    const error = await errorOf(client().fetch(provider.url, { method: 'POST', body: 'grant_type=x' }));
    expect(provider.requests).toHaveLength(1);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe('fetch failed');
    const failure = classifyOAuthFailure(error, Date.now());
    expect(failure).toMatchObject({ kind: 'transient' });
    expect(failure!.notSent).toBeUndefined();
  });

  it('fails an answer cut in the middle of its body as a network error', async () => {
    const provider = await serve((_request, response) => {
      response.writeHead(200, { 'content-length': '100' });
      response.write('{"access_token":', () => response.socket?.destroy());
    });
    const error = await errorOf(client().fetch(provider.url, { method: 'POST' }));
    expect((error as Error).message).toBe('fetch failed');
    expect(classifyOAuthFailure(error, Date.now())!.notSent).toBeUndefined();
  });
});

describe('ProviderHttp over https', () => {
  const openssl = spawnSync('openssl', ['version']).status === 0;
  if (!openssl && process.env.CI) throw new Error('openssl is required for the https cases in CI');
  // eslint-disable-next-line no-console
  if (!openssl) console.warn('\n!!! SKIPPING the https cases of provider-fetch: openssl is not installed\n');

  it.skipIf(!openssl)(
    'refuses a certificate from an untrusted CA, and takes it once NODE_EXTRA_CA_CERTS names the CA',
    { timeout: 60_000 },
    async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-provider-tls-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      const file = (name: string) => path.join(dir, name);
      await makeCertificates(dir);
      const provider = await serve(
        (_request, response) => json(response, 200, {}),
        createSecureServer({
          key: await readFile(file('server.key')),
          cert: await readFile(file('server.pem')),
        }),
      );

      const error = await errorOf(client().fetch(provider.url));
      expect((error as Error).message).toBe('fetch failed');
      expect((error as { cause: { code: string } }).cause.code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      expect(classifyOAuthFailure(error, Date.now())!.notSent).toBeUndefined();

      const inChild = async (env: NodeJS.ProcessEnv) => {
        const { stdout } = await run(process.execPath, ['--import', 'tsx', CHILD, provider.url], {
          env: { ...process.env, NODE_EXTRA_CA_CERTS: undefined, ...env },
        });
        return stdout.trim();
      };
      expect(await inChild({})).toBe('error UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      expect(await inChild({ NODE_EXTRA_CA_CERTS: file('ca.pem') })).toBe('status 200');
    },
  );
});

describe('the protocols over ProviderHttp', () => {
  const server = (tokenEndpoint: string): AuthorizationServerMetadata => ({
    issuer: tokenEndpoint,
    authorizationEndpoint: null,
    tokenEndpoint,
    revocationEndpoint: null,
    issParameterSupported: false,
    document: {},
  });
  const settings = {
    clientId: 'nanoclaw',
    clientSecret: 'secret',
    authMethod: 'client_secret_post' as const,
  };
  const NEVER = new AbortController().signal;

  it('refreshes through oauth4webapi with the client, which sends its own user-agent', async () => {
    const provider = await serve((_request, response) =>
      json(response, 200, { access_token: 'AT', token_type: 'bearer', expires_in: 60 }),
    );
    const protocol = new Oauth4webapiProtocol({ fetch: client().fetch });
    const answer = await protocol.refresh(server(`${provider.url}/token`), settings, 'RT', NEVER);
    expect(answer).toMatchObject({ accessToken: 'AT', tokenType: 'Bearer', expiresInSeconds: 60 });
    expect(provider.requests[0]!.headers['user-agent']).toMatch(/^oauth4webapi\//);
    expect(new URLSearchParams(provider.requests[0]!.body).get('refresh_token')).toBe('RT');
  });

  it('tells a refresh that never left from one cut after it was sent', async () => {
    const protocol = new Oauth4webapiProtocol({ fetch: client().fetch });
    const refused = await errorOf(
      protocol.refresh(server(`http://127.0.0.1:${await closedPort()}/token`), settings, 'RT', NEVER),
    );
    expect((refused as OAuthRequestError).failure).toMatchObject({ kind: 'transient', notSent: true });

    const cut = await serve((request) => request.socket.destroy());
    const spent = await errorOf(protocol.refresh(server(`${cut.url}/token`), settings, 'RT', NEVER));
    expect(spent).toBeInstanceOf(OAuthRequestError);
    expect((spent as OAuthRequestError).failure.kind).toBe('transient');
    expect((spent as OAuthRequestError).failure.notSent).toBeUndefined();
  });

  it('turns an oversized answer into an invalid response, through oauth4webapi and through Lark', async () => {
    const provider = await serve((_request, response) => response.end(Buffer.alloc(2 * 1024 * 1024, 'x')));
    const fetch = client().fetch;
    const standard = new Oauth4webapiProtocol({ fetch });
    for (const protocol of [standard, new LarkProtocol({ standard, fetch })]) {
      const error = await errorOf(protocol.refresh(server(`${provider.url}/token`), settings, 'RT', NEVER));
      expect(error).toBeInstanceOf(OAuthRequestError);
      expect((error as OAuthRequestError).failure).toMatchObject({
        kind: 'invalid_response',
        description: "the provider's answer is over 1 MiB and was not read",
      });
    }
  });
});
