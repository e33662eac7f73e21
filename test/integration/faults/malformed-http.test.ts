import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_ENTRY, TSX_LOADER } from '../../support/cli.js';
import { FakeNangoServer, type FakeConnection } from '../../support/fake-nango-server.js';
import { recordSecret } from '../../support/secret-scan.js';

/**
 * Malformed and oversized requests against a real `nanoclaw serve` process over real HTTP: every
 * one is answered 4xx with `{error: {code, message}}` and a stable code, and none changes anything:
 * the data folder stays byte for byte (token files, connection registry), the token source is not
 * asked, and the event stream carries no event at all (4xx answers emit none, not even `error`).
 */

const SIGNING_KEY = `webhook-signing-${randomBytes(16).toString('hex')}`;
recordSecret(SIGNING_KEY);

let dir: string;
let nango: FakeNangoServer;
let alice: FakeConnection;
let serve: ChildProcessByStdio<null, Readable, Readable>;
let port: number;
let apiToken: string;

interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Send this Content-Length instead of the body's. */
  contentLength?: string | null;
  /** Send this many bytes of the body only, then close the sending side. */
  truncateTo?: number;
  /** Send raw bytes as they are (a broken request line). */
  raw?: Buffer;
}

interface RawResponse {
  status: number;
  text: string;
  code: string | null;
}

/**
 * One request, exactly as given. A server that answers a too-large body early and closes resets the
 * connection while the body is still being sent, and the reset can beat its answer to the client (a
 * TCP race, not a server fault): such a request is sent again, a few times at most.
 */
async function request(spec: RawRequest): Promise<RawResponse> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await requestOnce(spec);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (attempt >= 3 || (code !== 'EPIPE' && code !== 'ECONNRESET')) throw error;
    }
  }
}

/** Bodies larger than this wait a moment for an early answer before they are sent. */
const EARLY_ANSWER_BODY_BYTES = 16 * 1024;
const EARLY_ANSWER_WAIT_MS = 100;

/** One request over a fresh socket, exactly as given: no client fixes up what it sends. */
function requestOnce(spec: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let failure: Error | null = null;
    socket.on('data', (chunk) => chunks.push(chunk));
    // The server may answer a huge body early and reset the connection while it is still sent.
    socket.on('error', (error) => (failure = error));
    socket.on('close', () => {
      if (chunks.length === 0) {
        reject(failure ?? new Error(`the server closed without answering ${spec.method} ${spec.path}`));
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      const bodyText = rest.join('\r\n\r\n');
      let code: string | null = null;
      try {
        const parsed = JSON.parse(bodyText) as { error?: { code?: unknown; message?: unknown } };
        if (typeof parsed.error?.code === 'string' && typeof parsed.error.message === 'string')
          code = parsed.error.code;
      } catch {
        code = null;
      }
      resolve({ status, text, code });
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${spec.method} ${spec.path}`)));
    // The server closes after answering (Connection: close). Only a cut-short body ends the sending
    // side: Node's server drops requests of clients that half-close, so a whole request must not.
    if (spec.raw) {
      socket.write(spec.raw);
      return;
    }
    const body = spec.body === undefined ? Buffer.alloc(0) : Buffer.from(spec.body);
    const headers: Record<string, string> = {
      host: `127.0.0.1:${port}`,
      connection: 'close',
      ...spec.headers,
    };
    if (spec.contentLength !== null && !headers['transfer-encoding']) {
      headers['content-length'] = spec.contentLength ?? String(body.length);
    }
    const head = `${spec.method} ${spec.path} HTTP/1.1\r\n${Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('')}\r\n`;
    socket.write(head);
    const sendBody = () => {
      if (socket.destroyed || chunks.length > 0) return;
      if (spec.truncateTo === undefined) socket.write(body);
      else socket.end(body.subarray(0, spec.truncateTo));
    };
    // A large body goes a moment after the head, as a client that honours early answers sends it: a
    // server that refuses it from its head answers first, and that answer is read, not lost to the
    // reset a body still in flight would cause.
    if (body.length > EARLY_ANSWER_BODY_BYTES) setTimeout(sendBody, EARLY_ANSWER_WAIT_MS);
    else sendBody();
  });
}

function sign(body: Buffer | string): string {
  return createHmac('sha256', SIGNING_KEY).update(body).digest('hex');
}

/** A webhook request, signed over its exact bytes unless told otherwise. */
function webhook(body: Buffer | string, headers: Record<string, string> = {}): RawRequest {
  return {
    method: 'POST',
    path: '/api/webhooks/nango',
    headers: { 'content-type': 'application/json', 'x-nango-hmac-sha256': sign(body), ...headers },
    body,
  };
}

function creation(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    from: 'nango',
    type: 'auth',
    operation: 'creation',
    success: true,
    connectionId: alice.connectionId,
    providerConfigKey: 'google-calendar',
    provider: 'google-calendar',
    authMode: 'OAUTH2',
    environment: 'dev',
    endUser: { endUserId: 'alice', endUserEmail: null, tags: {} },
    ...fields,
  };
}

function api(
  method: string,
  pathname: string,
  body?: Buffer | string,
  headers: Record<string, string> = {},
): RawRequest {
  return {
    method,
    path: pathname,
    headers: {
      authorization: `Bearer ${apiToken}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body } : {}),
  };
}

/** Every file under the data folder: its bytes' hash and mode. */
async function snapshot(root: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  const walk = async (folder: string) => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) await walk(full);
      else {
        const hash = createHash('sha256')
          .update(await readFile(full))
          .digest('hex');
        result[path.relative(root, full)] = `${hash} ${((await stat(full)).mode & 0o777).toString(8)}`;
      }
    }
  };
  await walk(root);
  return result;
}

/** The event stream as the page reads it: every event that arrives, parsed. */
class EventStreamReader {
  readonly events: Array<{ type: string }> = [];
  readonly #controller = new AbortController();
  readonly opened: Promise<void>;

  constructor(url: string, token: string) {
    this.opened = (async () => {
      const response = await fetch(`${url}/api/events`, {
        headers: { authorization: `Bearer ${token}` },
        signal: this.#controller.signal,
      });
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      const pump = async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += decoder.decode(value, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) !== -1) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = block.split('\n').find((line) => line.startsWith('data: '));
            if (data) this.events.push(JSON.parse(data.slice('data: '.length)) as { type: string });
          }
        }
      };
      void pump().catch(() => {});
    })();
  }

  close(): void {
    this.#controller.abort();
  }
}

beforeAll(async () => {
  nango = await FakeNangoServer.start();
  alice = nango.addConnection({ integration: 'google-calendar', endUserId: 'alice' });
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-fault-http-'));
  await mkdir(path.join(dir, 'skills'));
  await writeFile(
    path.join(dir, 'nanoclaw.config.yaml'),
    'providers:\n  - name: google-calendar\n    scopes: [calendar.readonly]\n',
  );
  serve = spawn(process.execPath, ['--import', TSX_LOADER, CLI_ENTRY, 'serve', '--port', '0', '--json'], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      NANOCLAW_DATA_DIR: path.join(dir, 'data'),
      NANOCLAW_SKILLS_DIR: path.join(dir, 'skills'),
      DOCKER_HOST: `unix://${path.join(dir, 'no-docker.sock')}`,
      NANGO_SECRET_KEY: nango.secretKey,
      NANGO_HOST: nango.url,
      NANGO_WEBHOOK_SIGNING_KEY: SIGNING_KEY,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  serve.stderr.resume();
  const line = await new Promise<string>((resolve, reject) => {
    let text = '';
    serve.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('\n')) resolve(text.split('\n')[0]!);
    });
    serve.once('exit', (code) => reject(new Error(`nanoclaw serve exited (${code}) before listening`)));
  });
  const listening = JSON.parse(line) as { url: string; apiTokenFile: string };
  port = Number(new URL(listening.url).port);
  apiToken = (await readFile(listening.apiTokenFile, 'utf8')).trim();
  recordSecret(apiToken);
});

afterAll(async () => {
  if (serve && serve.exitCode === null) {
    serve.kill('SIGTERM');
    await new Promise((resolve) => serve.once('exit', resolve));
  }
  await nango?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const deep = (depth: number, open: string, close: string, inner = '1') =>
  `${open.repeat(depth)}${inner}${close.repeat(depth)}`;
const BAD_UTF8 = Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]);

/** [name, request, status, code]: what must come back, and nothing else may happen. */
function cases(): Array<[string, RawRequest, number, string]> {
  const valid = JSON.stringify({ owner: 'alice', provider: 'google-calendar' });
  const withBadUtf8 = Buffer.concat([
    Buffer.from('{"owner":"al'),
    BAD_UTF8,
    Buffer.from('ice","provider":"google-calendar"}'),
  ]);
  const hugeJson = JSON.stringify({
    owner: 'alice',
    provider: 'google-calendar',
    pad: 'x'.repeat(1024 * 1024),
  });
  const hugeWebhook = JSON.stringify(creation({ pad: 'x'.repeat(300 * 1024) }));
  return [
    // The JSON API.
    ['invalid JSON', api('POST', '/api/auth/complete', '{"owner": "alice",'), 400, 'INVALID_JSON'],
    [
      'wrong types',
      api('POST', '/api/auth/complete', '{"owner": 42, "provider": ["x"]}'),
      400,
      'INVALID_REQUEST',
    ],
    [
      'an unknown field',
      api('POST', '/api/auth/complete', `{"owner":"alice","provider":"google-calendar","admin":true}`),
      400,
      'INVALID_REQUEST',
    ],
    [
      'an owner id with a path in it',
      api('POST', '/api/auth/complete', `{"owner":"../x","provider":"google-calendar"}`),
      400,
      'INVALID_REQUEST',
    ],
    ['a JSON array', api('POST', '/api/auth/complete', '[]'), 400, 'INVALID_REQUEST'],
    ['JSON null', api('POST', '/api/auth/complete', 'null'), 400, 'INVALID_REQUEST'],
    ['an empty object', api('POST', '/api/auth/complete', '{}'), 400, 'INVALID_REQUEST'],
    ['an empty body', api('POST', '/api/auth/complete', ''), 400, 'INVALID_REQUEST'],
    [
      '__proto__ keys',
      api('POST', '/api/auth/complete', '{"__proto__":{"owner":"alice","provider":"google-calendar"}}'),
      400,
      'INVALID_REQUEST',
    ],
    ['bad UTF-8 inside a string', api('POST', '/api/auth/complete', withBadUtf8), 400, 'INVALID_REQUEST'],
    [
      'bad UTF-8 before the JSON',
      api('POST', '/api/auth/complete', Buffer.concat([BAD_UTF8, Buffer.from(valid)])),
      400,
      'INVALID_JSON',
    ],
    [
      'arrays nested 20,000 deep',
      api('POST', '/api/auth/complete', deep(20_000, '[', ']')),
      400,
      'INVALID_REQUEST',
    ],
    [
      'objects nested 6,000 deep',
      api('POST', '/api/auth/complete', `{"owner":${deep(6_000, '{"a":', '}')},"provider":"x"}`),
      400,
      'INVALID_REQUEST',
    ],
    ['a 1 MiB body', api('POST', '/api/auth/complete', hugeJson), 413, 'PAYLOAD_TOO_LARGE'],
    [
      'a 1 MiB chunked body',
      {
        ...api('POST', '/api/auth/complete', `${hugeJson.length.toString(16)}\r\n${hugeJson}\r\n0\r\n\r\n`, {
          'transfer-encoding': 'chunked',
        }),
      },
      413,
      'PAYLOAD_TOO_LARGE',
    ],
    [
      'text/plain',
      api('POST', '/api/auth/complete', valid, { 'content-type': 'text/plain' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'form data',
      api('POST', '/api/connect-sessions', 'owner=alice&provider=google-calendar', {
        'content-type': 'application/x-www-form-urlencoded',
      }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    ['no content type', { ...api('POST', '/api/auth/complete'), body: valid }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    [
      'a body cut short',
      { ...api('POST', '/api/auth/complete', valid), truncateTo: 10 },
      400,
      'INVALID_REQUEST',
    ],
    [
      'a Content-Length that is no number',
      { ...api('POST', '/api/auth/complete', valid), contentLength: 'abc' },
      400,
      'INVALID_REQUEST',
    ],
    [
      'a broken chunk',
      api('POST', '/api/auth/complete', `zz\r\n${valid}\r\n0\r\n\r\n`, { 'transfer-encoding': 'chunked' }),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a broken request line',
      { method: 'POST', path: '/', raw: Buffer.from('POST /api/auth/complete HTTP/9.9 junk\r\n\r\n') },
      400,
      'INVALID_REQUEST',
    ],
    [
      'an unknown provider',
      api('POST', '/api/connect-sessions', `{"owner":"alice","provider":"nope"}`),
      404,
      'UNKNOWN_PROVIDER',
    ],
    [
      'a disconnect for owner ../x',
      api('DELETE', '/api/connections/..%2Fx/google-calendar'),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a disconnect for owner ..',
      api('DELETE', '/api/connections/%2e%2e/google-calendar'),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a disconnect with a body',
      api('DELETE', '/api/connections/alice/google-calendar', '{"really":true}'),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a disconnect without the API token',
      { ...api('DELETE', '/api/connections/alice/google-calendar'), headers: {} },
      401,
      'UNAUTHORIZED',
    ],
    [
      'a disconnect with another Host',
      api('DELETE', '/api/connections/alice/google-calendar', undefined, { host: 'evil.example:80' }),
      403,
      'FORBIDDEN_HOST',
    ],
    ['a skill named ../x', api('POST', '/api/skills/..%2Fx/run', '{}'), 400, 'INVALID_REQUEST'],
    [
      'skill arguments of the wrong type',
      api('POST', '/api/skills/demo/run', '{"args":"rm -rf /"}'),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a login token that is a number',
      { ...api('POST', '/api/session', '{"token":12345}'), headers: { 'content-type': 'application/json' } },
      400,
      'INVALID_REQUEST',
    ],
    [
      'an over-long event id',
      api('GET', `/api/events?lastEventId=${'a'.repeat(100)}`),
      400,
      'INVALID_REQUEST',
    ],
    ['an unknown method', api('PUT', '/api/status', '{}'), 404, 'NOT_FOUND'],
    // Nango webhooks.
    [
      'a webhook without signature',
      { ...webhook(JSON.stringify(creation())), headers: { 'content-type': 'application/json' } },
      401,
      'INVALID_SIGNATURE',
    ],
    [
      'a webhook with a wrong signature',
      webhook(JSON.stringify(creation()), { 'x-nango-hmac-sha256': sign('something else') }),
      401,
      'INVALID_SIGNATURE',
    ],
    ['a signed webhook that is not JSON', webhook('{"type":"auth",'), 400, 'INVALID_JSON'],
    ['a signed webhook that is an array', webhook('[1,2,3]'), 400, 'INVALID_REQUEST'],
    ['a signed webhook nested 20,000 deep', webhook(deep(20_000, '[', ']')), 400, 'INVALID_REQUEST'],
    [
      'a signed webhook without a connection id',
      webhook(JSON.stringify(creation({ connectionId: undefined }))),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a signed webhook with success "yes"',
      webhook(JSON.stringify(creation({ success: 'yes' }))),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a signed webhook with success in __proto__',
      webhook(
        JSON.stringify(creation({ success: undefined })).replace(/}$/, ',"__proto__":{"success":true}}'),
      ),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a signed webhook with a 300-character connection id',
      webhook(JSON.stringify(creation({ connectionId: 'c'.repeat(300) }))),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a signed creation webhook for owner ../x',
      webhook(JSON.stringify(creation({ endUser: { endUserId: '../x' } }))),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a signed refresh failure for owner ../x',
      webhook(
        JSON.stringify(creation({ operation: 'refresh', success: false, endUser: { endUserId: '../x' } })),
      ),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a signed refresh failure for an owner id of 65 characters',
      webhook(
        JSON.stringify(
          creation({ operation: 'refresh', success: false, endUser: { endUserId: 'a'.repeat(65) } }),
        ),
      ),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a signed webhook with endUser a string',
      webhook(JSON.stringify(creation({ endUser: 'alice' }))),
      400,
      'INVALID_REQUEST',
    ],
    ['a signed webhook over 256 KiB', webhook(hugeWebhook), 413, 'PAYLOAD_TOO_LARGE'],
    [
      'a signed webhook as text/plain',
      webhook(JSON.stringify(creation()), { 'content-type': 'text/plain' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'a signed webhook cut short',
      { ...webhook(JSON.stringify(creation())), truncateTo: 40 },
      400,
      'INVALID_REQUEST',
    ],
    // Signed over its raw bytes, checked over their UTF-8 reading: bytes Nango never sends are refused.
    [
      'a webhook signed over bad UTF-8',
      webhook(
        Buffer.concat([
          Buffer.from(JSON.stringify(creation()).slice(0, -1)),
          Buffer.from(',"x":"'),
          BAD_UTF8,
          Buffer.from('"}'),
        ]),
      ),
      401,
      'INVALID_SIGNATURE',
    ],
  ];
}

describe('malformed and oversized requests to nanoclaw serve', () => {
  it('answer 4xx with a stable code and change nothing: files, registry, token source, events', async () => {
    // State worth protecting: alice's token and her connection in the registry.
    const connected = await request(webhook(JSON.stringify(creation())));
    expect(connected.status, connected.text).toBe(200);
    const dataDir = path.join(dir, 'data');
    const before = await snapshot(dataDir);
    expect(Object.keys(before)).toEqual(
      expect.arrayContaining(['tokens/alice/google-calendar.json', 'nango-connections.json']),
    );
    const stream = new EventStreamReader(`http://127.0.0.1:${port}`, apiToken);
    await stream.opened;
    const sourceRequests = nango.requests.length;

    const answers: string[] = [];
    for (const [name, spec, status, code] of cases()) {
      const response = await request(spec);
      answers.push(`${name}: ${response.status} ${response.code ?? response.text.slice(0, 120)}`);
      expect({ name, status: response.status, code: response.code }).toEqual({ name, status, code });
    }

    // Nothing changed: not a byte on disk, no call to the source, no event (give stragglers a moment).
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await snapshot(dataDir)).toEqual(before);
    expect(nango.requests.slice(sourceRequests).map((each) => `${each.method} ${each.path}`)).toEqual([]);
    expect(stream.events).toEqual([]);

    // The observers work: a valid webhook for a renewed connection changes the file and is seen.
    nango.rotateToken('google-calendar', alice.connectionId);
    const renewed = await request(webhook(JSON.stringify(creation({ operation: 'override' }))));
    expect(renewed.status, renewed.text).toBe(200);
    const deadline = Date.now() + 5_000;
    while (stream.events.length === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    stream.close();
    expect(stream.events.map((event) => event.type)).toEqual(['token_synced']);
    const after = await snapshot(dataDir);
    expect(Object.keys(after).filter((file) => after[file] !== before[file])).toEqual([
      'tokens/alice/google-calendar.json',
    ]);
    // eslint-disable-next-line no-console
    console.log(`malformed HTTP: ${answers.length} requests, each 4xx with a stable code, no state change`);
  }, 60_000);
});
