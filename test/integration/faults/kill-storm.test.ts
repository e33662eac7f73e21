import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTokenFile } from '../../../src/tokens/token-file.js';
import { dockerForTests } from '../../support/docker.js';
import { seededRandom } from '../../support/fault-random.js';
import { FakeNangoServer } from '../../support/fake-nango-server.js';
import { TSX_LOADER } from '../../support/cli.js';
import { SkillSandbox } from '../../support/skill-sandbox.js';

/**
 * `kill -9` of a process in the middle of a storm of token writes, again and again, while a reader
 * on the host and one inside a real container (read-only folder mount, network none) read the file
 * in tight loops: no reader may ever see a missing, torn or invalid file, and after every kill the
 * file on disk is a whole token.
 */

const WRITER = fileURLToPath(new URL('../../support/fault-storm-writer.ts', import.meta.url));
const KILLS = 8;
/** Temp files a token write names `<file>.<uint32>`. */
const TEMP_FILE = /^github\.json\.\d+$/;

/** The host reader: reads and parses in a tight loop in its own process, until told to stop. */
const HOST_READER = `
const { readFileSync, existsSync } = require('node:fs');
const [file, stopFile] = process.argv.slice(1);
const stats = { reads: 0, missing: 0, invalid: 0, tokens: new Set(), problems: [] };
let announced = false;
while (!(stats.reads % 64 === 0 && existsSync(stopFile))) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
    stats.missing++;
    if (stats.problems.length < 20) stats.problems.push('missing');
    continue;
  }
  stats.reads++;
  try {
    const token = JSON.parse(text);
    if (token.provider !== 'github' || typeof token.access_token !== 'string' || !token.access_token) throw new Error('not a token');
    stats.tokens.add(token.access_token);
  } catch (error) {
    stats.invalid++;
    if (stats.problems.length < 20) stats.problems.push('invalid (' + text.length + ' bytes): ' + error.message);
    continue;
  }
  if (!announced) { announced = true; process.stdout.write('ready\\n'); }
}
process.stdout.write(JSON.stringify({ ...stats, tokens: stats.tokens.size }) + '\\n');
`;

/** The container reader: the same loop in Python, through the read-only folder mount; SIGTERM ends it. */
const CONTAINER_READER = String.raw`
import json, signal, sys
path = "/workspace/tokens/github.json"
stats = {"reads": 0, "missing": 0, "invalid": 0}
tokens = set()
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
announced = False
while not stop:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        stats["missing"] += 1
        print("BAD missing", flush=True)
        continue
    stats["reads"] += 1
    try:
        token = json.loads(data)
        if token["provider"] != "github" or not isinstance(token["access_token"], str) or not token["access_token"]:
            raise ValueError("not a token")
        tokens.add(token["access_token"])
    except Exception as error:
        stats["invalid"] += 1
        print("BAD invalid (%d bytes): %s" % (len(data), type(error).__name__), flush=True)
        continue
    if not announced:
        announced = True
        print("ready", flush=True)
stats["tokens"] = len(tokens)
print("SUMMARY " + json.dumps(stats), flush=True)
`;

interface ReaderReport {
  reads: number;
  missing: number;
  invalid: number;
  tokens: number;
  problems?: string[];
}

const docker = await dockerForTests();

describe.skipIf(!docker.available)('kill -9 during a write storm', () => {
  let nango: FakeNangoServer;
  let sandbox: SkillSandbox;

  beforeAll(async () => {
    if (!docker.available) return;
    nango = await FakeNangoServer.start();
    nango.addConnection({ integration: 'github', connectionId: 'conn-main', endUserId: 'main' });
    sandbox = await SkillSandbox.create({
      nango,
      containers: docker.containers,
      providers: [{ name: 'github' }],
      stopGraceSeconds: 5,
      skills: {
        'token-reader': {
          manifest: {
            command: ['python3', '/opt/nanoclaw/skills/token-reader/read.py'],
            providers: [{ name: 'github' }],
            timeout: 120,
          },
          files: { 'read.py': CONTAINER_READER },
        },
      },
    });
  });

  afterAll(async () => {
    await sandbox?.close();
    await nango?.close();
  });

  it(`leaves a whole token file after each of ${KILLS} kills, and no reader ever sees a torn or missing one`, async () => {
    const random = seededRandom();
    const owner = 'main';
    expect(await sandbox.runtime.tokenSync.sync(owner, 'github')).toMatchObject({ state: 'refreshed' });
    const file = path.join(sandbox.tokensDir, owner, 'github.json');
    const ownerDir = path.dirname(file);

    // The container reader, started through the product's runner (its mount, its hardening).
    const stopContainer = new AbortController();
    const containerRun = sandbox.runner.run({ skill: 'token-reader', owner, signal: stopContainer.signal });
    await waitFor(() => sandbox.stdout().includes('ready'), 60_000, 'the container reader');

    const stopFile = path.join(sandbox.root, 'stop-host-reader');
    const hostReader = spawn(process.execPath, ['-e', HOST_READER, file, stopFile], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const hostLines = createInterface({ input: hostReader.stdout })[Symbol.asyncIterator]();
    expect((await hostLines.next()).value).toBe('ready');

    const env = { PATH: process.env.PATH, NANGO_HOST: nango.url, NANGO_SECRET_KEY: nango.secretKey };
    const leftovers = new Map<string, 'empty' | 'whole token' | 'partial'>();
    let writes = 0;
    const killedAfterMs: number[] = [];
    for (let kill = 0; kill < KILLS; kill++) {
      nango.resetStats();
      const writer = spawn(
        process.execPath,
        ['--import', TSX_LOADER, WRITER, path.dirname(sandbox.tokensDir), 'github', owner, 'conn-main'],
        { env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let writerErrors = '';
      writer.stderr.setEncoding('utf8').on('data', (chunk: string) => (writerErrors += chunk));
      await waitForLine(writer, 'storming');
      const delay = random.int(20, 600);
      await new Promise((resolve) => setTimeout(resolve, delay));
      writer.kill('SIGKILL');
      const [, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
        writer.once('exit', (code, exitSignal) => resolve([code, exitSignal])),
      );
      expect(signal, writerErrors).toBe('SIGKILL');
      killedAfterMs.push(delay);
      writes += nango.requestsTo('getConnection').length;

      // On disk: a whole token, one the source issued, with its mode; anything else is a temp file.
      const text = await readFile(file, 'utf8');
      const token = parseTokenFile(text);
      expect(nango.secrets).toContain(token.access_token);
      expect((await stat(file)).mode & 0o777).toBe(0o640);
      for (const name of await readdir(ownerDir)) {
        if (name === 'github.json') continue;
        expect(name).toMatch(TEMP_FILE);
        if (!leftovers.has(name))
          leftovers.set(name, classify(await readFile(path.join(ownerDir, name), 'utf8')));
      }
    }

    await writeFile(stopFile, '');
    const host = JSON.parse((await hostLines.next()).value as string) as ReaderReport;
    stopContainer.abort();
    const run = await containerRun;
    expect(run.reason).toBe('aborted');
    const lines = sandbox.stdout(run.runId);
    const summaryLine = lines.find((line) => line.startsWith('SUMMARY '));
    expect(summaryLine, lines.join('\n')).toBeDefined();
    const container = JSON.parse(summaryLine!.slice('SUMMARY '.length)) as ReaderReport;

    expect(host.problems).toEqual([]);
    expect({ missing: host.missing, invalid: host.invalid }).toEqual({ missing: 0, invalid: 0 });
    expect(lines.filter((line) => line.startsWith('BAD'))).toEqual([]);
    expect({ missing: container.missing, invalid: container.invalid }).toEqual({ missing: 0, invalid: 0 });
    // The readers really raced the writers: they saw many of the tokens, not just a few.
    expect(host.tokens).toBeGreaterThan(KILLS);
    expect(container.tokens).toBeGreaterThan(KILLS);
    expect(writes).toBeGreaterThan(KILLS * 4);

    // Temp files left by kills are never taken for tokens; listing the folder (as the refresher does
    // when it starts) removes those older than a minute, not a live write's. One torn temp file of a
    // long-gone writer is added, so there is always one to clean up.
    await writeFile(path.join(ownerDir, 'github.json.4242'), '{"provider":"git');
    const longAgo = new Date(Date.now() - 2 * 60_000);
    for (const name of [...leftovers.keys(), 'github.json.4242'])
      await utimes(path.join(ownerDir, name), longAgo, longAgo);
    await writeFile(path.join(ownerDir, 'github.json.777'), '');
    expect(await sandbox.runtime.folder.listProviders(owner)).toEqual(['github']);
    expect((await readdir(ownerDir)).sort()).toEqual(['github.json', 'github.json.777']);
    // eslint-disable-next-line no-console
    console.log(
      `kill storm (seed ${random.seed}): ${KILLS} kills after ${killedAfterMs.join('/')} ms, ${writes} token writes; ` +
        `host reader ${host.reads} reads (${host.tokens} tokens), container reader ${container.reads} reads ` +
        `(${container.tokens} tokens); temp files left by kills: ${[...leftovers.values()].join(', ') || 'none'}`,
    );
  }, 120_000);
});

function classify(text: string): 'empty' | 'whole token' | 'partial' {
  if (text === '') return 'empty';
  try {
    parseTokenFile(text);
    return 'whole token';
  } catch {
    return 'partial';
  }
}

function waitForLine(child: ChildProcessByStdio<null, Readable, Readable>, expected: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const onExit = (code: number | null) =>
      reject(new Error(`the writer exited (${code}) before "${expected}"`));
    child.once('exit', onExit);
    lines.on('line', (line) => {
      if (line !== expected) return;
      child.off('exit', onExit);
      lines.close();
      resolve();
    });
  });
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
