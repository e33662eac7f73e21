/**
 * The secret scan: no token, key or client secret may appear in any log line, event or CLI output
 * written during the whole test run, whichever test file wrote it.
 *
 * How it works:
 * 1. `secret-scan-global-setup.ts` (vitest `globalSetup`) makes a run folder in the temp dir and
 *    puts its path in NANOCLAW_SECRET_SCAN_DIR, which every test worker inherits.
 * 2. This file (vitest `setupFiles`) runs before each test file in its worker and hooks, from the
 *    outside, without test-only code in src/:
 *    - what is written: every event (`EventBus.prototype.emit`), every pino log line whatever its
 *      destination (the serializer on pino's shared prototype, so lines are captured as written,
 *      after redaction), and every line a child process writes to a pipe (`child_process.spawn`
 *      and `spawnSync`: the CLI, `nanoclaw serve`, workers);
 *    - what is secret: every token a token file is written with (`TokenFolder.prototype.save`),
 *      every token the built-in source stores (`CredentialStore.prototype.write`), the fake Nango's
 *      keys and every token it issues, client secrets of configured providers
 *      (`TokenSync.prototype.sync`), the daemon's API token once a request proves it
 *      (`RequestGuard.prototype.isApiToken`), its sessions and login codes, and anything a test
 *      passes to `recordSecret`.
 *    Both go, buffered, into per-process files in the run folder (`CaptureWriter`).
 * 3. The global teardown reads every secret and every capture line of all workers and fails the
 *    run, naming file, line, test file and a hash of the secret (never the secret), if any
 *    captured line holds one. `test/integration/faults/secret-scan.test.ts` proves a planted leak
 *    fails a run.
 */
import childProcess, { type SpawnSyncReturns } from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { EventBus } from '../../src/events/event-bus.js';
import { CredentialStore } from '../../src/sources/builtin/credential-store.js';
import { TokenFolder } from '../../src/tokens/token-folder.js';
import { TokenSync } from '../../src/tokens/token-sync.js';
import { RequestGuard } from '../../src/web/auth/request-guard.js';
import { SessionStore } from '../../src/web/auth/session-store.js';
import { FakeNangoServer } from './fake-nango-server.js';
import { captureWriter, type CaptureWriter } from './secret-scan.js';

const writer = captureWriter();

/** Marks a function this file put in place, so a module evaluated twice is not wrapped twice. */
const WRAPPED = Symbol.for('nanoclaw.secretScan.wrapped');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- wraps methods of any shape
type AnyFunction = (this: any, ...args: any[]) => any;

function wrap<T extends object>(
  target: T,
  name: PropertyKey,
  replace: (original: AnyFunction) => AnyFunction,
) {
  const holder = target as Record<PropertyKey, AnyFunction & { [WRAPPED]?: true }>;
  const original = holder[name];
  if (typeof original !== 'function')
    throw new Error(`secret scan: ${String(name)} is not a function to hook`);
  if (original[WRAPPED]) return;
  const replacement = Object.assign(replace(original), { [WRAPPED]: true as const });
  holder[name] = replacement;
}

if (writer) {
  installOutputHooks(writer);
  installSecretHooks(writer);
  beforeAll(() => {
    const testPath = expect.getState().testPath;
    writer.currentTest = testPath ? path.relative(process.cwd(), testPath) : '(unknown test file)';
  });
  afterEach(() => writer.flush());
  afterAll(() => writer.flush());
}

function installOutputHooks(capture: CaptureWriter): void {
  wrap(
    EventBus.prototype,
    'emit',
    (original) =>
      function emit(...args) {
        const stamped = original.apply(this, args) as unknown;
        capture.record('event', JSON.stringify(stamped));
        return stamped;
      },
  );

  // Every pino logger inherits its serializer from one shared prototype: what it returns is the
  // line exactly as any destination receives it.
  const shared = Object.getPrototypeOf(Object.getPrototypeOf(pino({ level: 'silent' }))) as object;
  if (!Object.prototype.hasOwnProperty.call(shared, pino.symbols.asJsonSym)) {
    throw new Error('secret scan: pino no longer serializes through its shared prototype; update the hook');
  }
  wrap(
    shared,
    pino.symbols.asJsonSym,
    (original) =>
      function asJson(...args) {
        const line = original.apply(this, args) as string;
        captureWriter()?.record('log', line.trimEnd());
        return line;
      },
  );

  wrap(
    childProcess,
    'spawn',
    (original) =>
      function spawn(...args) {
        const child = original.apply(this, args) as childProcess.ChildProcess;
        const label = describeCommand(args);
        if (child.stdout) teeLines(child.stdout, `child ${label} stdout`);
        if (child.stderr) teeLines(child.stderr, `child ${label} stderr`);
        return child;
      },
  );
  wrap(
    childProcess,
    'spawnSync',
    (original) =>
      function spawnSync(...args) {
        const result = original.apply(this, args) as SpawnSyncReturns<Buffer | string>;
        const label = describeCommand(args);
        for (const [stream, output] of [
          ['stdout', result.stdout],
          ['stderr', result.stderr],
        ] as const) {
          if (output)
            for (const line of output.toString().split('\n'))
              captureWriter()?.record(`child ${label} ${stream}`, line);
        }
        return result;
      },
  );
  // `import { spawn } from 'node:child_process'` in test files sees the wrapped functions.
  syncBuiltinESMExports();
}

/** The program and script a child runs, without the rest of its arguments (they may hold anything). */
function describeCommand(args: unknown[]): string {
  const [command, rest] = args;
  const parts = [path.basename(String(command))];
  if (Array.isArray(rest)) {
    const script = rest.find(
      (arg) => typeof arg === 'string' && !arg.startsWith('-') && /\.[cm]?[jt]s$/.test(arg),
    );
    if (typeof script === 'string') parts.push(path.basename(script));
  }
  return parts.join(' ');
}

/** Longest partial line held back waiting for its newline. */
const MAX_PENDING = 64 * 1024;

/**
 * Copies what a child writes to a pipe into the capture, line by line, as it arrives: `push` is
 * wrapped instead of adding a `data` listener, which would switch the stream to flowing mode and
 * change what the test reading it sees.
 */
function teeLines(stream: Readable, kind: string): void {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  const emit = (text: string) => captureWriter()?.record(kind, text);
  const originalPush = stream.push.bind(stream);
  stream.push = (chunk: unknown, encoding?: BufferEncoding) => {
    if (chunk === null) {
      pending += decoder.end();
      emit(pending);
      pending = '';
    } else if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) {
      const text = pending + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
      const lines = text.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) emit(line);
      if (pending.length > MAX_PENDING) {
        emit(pending);
        // Keep an overlap, so a secret across the cut is still seen whole on one side.
        pending = pending.slice(-256);
      }
    }
    return originalPush(chunk, encoding);
  };
}

function installSecretHooks(capture: CaptureWriter): void {
  // Every token write goes through `save` (`write` calls it).
  wrap(
    TokenFolder.prototype,
    'save',
    (original) =>
      function save(...args) {
        const token = args[1] as { access_token?: unknown; refresh_token?: unknown } | undefined;
        capture.secret(token?.access_token);
        capture.secret(token?.refresh_token);
        return original.apply(this, args);
      },
  );
  wrap(
    CredentialStore.prototype,
    'write',
    (original) =>
      function write(...args) {
        const grant = args[0] as { accessToken?: unknown; refreshToken?: unknown } | undefined;
        capture.secret(grant?.accessToken);
        capture.secret(grant?.refreshToken);
        return original.apply(this, args);
      },
  );
  const seenSyncs = new WeakSet<object>();
  wrap(
    TokenSync.prototype,
    'sync',
    (original) =>
      function sync(...args) {
        if (!seenSyncs.has(this as object)) {
          seenSyncs.add(this as object);
          for (const provider of (this as TokenSync).providers) {
            if ('clientSecret' in provider) capture.secret(provider.clientSecret);
          }
        }
        return original.apply(this, args);
      },
  );
  wrap(
    RequestGuard.prototype,
    'isApiToken',
    (original) =>
      function isApiToken(...args) {
        const matches = original.apply(this, args) as boolean;
        if (matches) capture.secret(args[0]);
        return matches;
      },
  );
  for (const method of ['createSession', 'createLoginCode'] as const) {
    wrap(
      SessionStore.prototype,
      method,
      (original) =>
        function created(...args) {
          const value = original.apply(this, args) as string;
          capture.secret(value);
          return value;
        },
    );
  }

  const recordServer = (server: FakeNangoServer) => {
    for (const secret of server.secrets) capture.secret(secret);
  };
  wrap(
    FakeNangoServer,
    'start',
    (original) =>
      async function start(...args) {
        const server = (await original.apply(this, args)) as FakeNangoServer;
        recordServer(server);
        return server;
      },
  );
  for (const method of ['addConnection', 'rotateToken'] as const) {
    wrap(
      FakeNangoServer.prototype,
      method,
      (original) =>
        function issued(...args) {
          const connection = original.apply(this, args) as { accessToken: string; refreshToken: string };
          capture.secret(connection.accessToken);
          capture.secret(connection.refreshToken);
          return connection;
        },
    );
  }
  wrap(
    FakeNangoServer.prototype,
    'close',
    (original) =>
      function close(...args) {
        // Tokens it rotated on its own (forced or near-expiry reads) are all in its list.
        recordServer(this as FakeNangoServer);
        return original.apply(this, args);
      },
  );
}
