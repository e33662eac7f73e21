import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../../src/app/runtime.js';
import { silentLogger } from '../../../src/log/logger.js';
import { FakeNangoServer } from '../../support/fake-nango-server.js';

/**
 * A skill's view: read the file in a tight loop from another process, as a container would through
 * its read-only mount, and count every read that was not a whole token file.
 */
const READER = `
const { readFileSync } = require('node:fs');
const { existsSync } = require('node:fs');
const [file, stopFile] = process.argv.slice(1);
const stats = { reads: 0, missing: 0, invalid: 0, tokens: new Set() };
let announced = false;
const deadline = Date.now() + 60_000;
while (Date.now() < deadline && !(stats.reads % 64 === 0 && existsSync(stopFile))) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT') { stats.missing++; continue; }
    throw error;
  }
  stats.reads++;
  let token;
  try {
    token = JSON.parse(text);
  } catch {
    stats.invalid++;
    continue;
  }
  if (typeof token.access_token !== 'string' || token.provider !== 'github') { stats.invalid++; continue; }
  stats.tokens.add(token.access_token);
  if (!announced) { announced = true; process.stdout.write('ready\\n'); }
}
process.stdout.write(JSON.stringify({ ...stats, tokens: stats.tokens.size }) + '\\n');
`;

let dir: string;
let server: FakeNangoServer;
let runtime: Runtime;

/** tmpfs when there is one: rename is just as atomic there, and thousands of fsyncs stay quick. */
function scratchRoot(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(scratchRoot(), 'nanoclaw-torn-'));
  server = await FakeNangoServer.start();
  await writeFile(path.join(dir, 'nanoclaw.config.yaml'), 'providers:\n  - name: github\n');
  runtime = await createRuntime({
    cwd: dir,
    env: { NANGO_SECRET_KEY: server.secretKey, NANGO_HOST: server.url },
    logger: silentLogger(),
  });
});
afterEach(async () => {
  await runtime.close();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

it('a reader looping over a token file while it is rewritten thousands of times never sees a torn or missing file', async () => {
  server.addConnection({ integration: 'github', connectionId: 'main' });
  const first = await runtime.tokenSync.sync('main', 'github');
  expect(first.state).toBe('refreshed');
  const file = runtime.folder.filePath('main', 'github');

  const stopFile = path.join(dir, 'stop');
  const reader = spawn(process.execPath, ['-e', READER, file, stopFile], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: reader.stdout })[Symbol.asyncIterator]();
  expect((await lines.next()).value).toBe('ready');

  // Every forced sync brings a new token (Nango refreshes), so every one is a real rewrite.
  const rewrites = 2000;
  for (let index = 0; index < rewrites; index++) {
    const result = await runtime.tokenSync.sync('main', 'github', { force: true });
    expect(result.state).toBe('refreshed');
  }
  await writeFile(stopFile, '');

  const report = JSON.parse((await lines.next()).value as string) as {
    reads: number;
    missing: number;
    invalid: number;
    tokens: number;
  };
  expect(report.missing).toBe(0);
  expect(report.invalid).toBe(0);
  // The reader really raced the writer: it saw many different tokens, not just the first and last.
  expect(report.tokens).toBeGreaterThan(100);
  expect(report.reads).toBeGreaterThan(rewrites);
  expect(server.requestsTo('getConnection')).toHaveLength(rewrites + 1);
}, 60_000);
