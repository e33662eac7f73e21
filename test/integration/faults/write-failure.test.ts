import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { tokenGroupFor } from '../../../src/app/runtime.js';
import type { SyncCommandJson } from '../../../src/cli/commands/sync.js';
import { resolveConfig } from '../../../src/config/resolve-config.js';
import { BACKOFF_MAX_MS, BACKOFF_MIN_MS } from '../../../src/daemon/backoff.js';
import { Refresher } from '../../../src/daemon/refresher.js';
import { EventBus } from '../../../src/events/event-bus.js';
import type { NanoclawEvent } from '../../../src/events/types.js';
import { createLogger } from '../../../src/log/logger.js';
import { createSources } from '../../../src/sources/create-sources.js';
import { TokenFolder } from '../../../src/tokens/token-folder.js';
import { TokenSync } from '../../../src/tokens/token-sync.js';
import { CLI_ENTRY, runCliInProcess, TSX_LOADER } from '../../support/cli.js';
import { ManualClock, settle } from '../../support/fault-clock.js';
import { seededRandom } from '../../support/fault-random.js';
import { mountTinyFilesystem, type TinyFilesystem } from '../../support/fault-tmpfs.js';
import { FakeNangoServer } from '../../support/fake-nango-server.js';

/**
 * Token writes that fail on a real filesystem: full (ENOSPC, a tiny tmpfs), read-only (EROFS, the
 * tmpfs remounted) and not ours to write (EACCES, the CLI run as another user). The old file must
 * stay byte for byte, the error must say what happened, and retries must back off.
 */

const MINUTE = 60_000;
const REPO_ROOT = path.resolve(fileURLToPath(new URL('../../..', import.meta.url)));
/** The skill image's user: it may read the token folder (group) but not write it. */
const OTHER_USER = 10001;

const mounted = await mountTinyFilesystem(256);
let nango: FakeNangoServer;

beforeAll(async () => {
  nango = await FakeNangoServer.start();
  nango.addConnection({ integration: 'github', connectionId: 'conn-main', endUserId: 'main' });
});
afterAll(async () => {
  await nango?.close();
  if (mounted.available) await mounted.fs.unmount();
});

interface CliResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** `nanoclaw <args>` as a real process, optionally as another user. */
function nanoclaw(args: string[], cwd: string, uid?: number): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX_LOADER, CLI_ENTRY, ...args], {
      cwd,
      env: { PATH: process.env.PATH, NANGO_SECRET_KEY: nango.secretKey, NANGO_HOST: nango.url },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(uid !== undefined ? { uid, gid: uid } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (exitCode) => resolve({ exitCode, stdout, stderr }));
  });
}

/**
 * Running the CLI as another user needs the repository and its node_modules readable by that user,
 * which a checkout under /root (0700) is not. In CI that is a broken setup and fails; elsewhere the
 * test is skipped, saying why, instead of failing on a module it cannot load.
 */
async function requireCliRunsAs(uid: number, cwd: string, context: TestContext): Promise<void> {
  const probe = await nanoclaw(['--help'], cwd, uid);
  if (probe.exitCode === 0) return;
  const reason =
    `the CLI cannot run as uid ${uid}, who must be able to read ${REPO_ROOT} ` +
    `and its node_modules (exit ${probe.exitCode}: ${probe.stderr.trim().split('\n')[0] ?? ''})`;
  if (process.env.CI) throw new Error(reason);
  // eslint-disable-next-line no-console
  console.warn(`\n!!! SKIPPING the EACCES test: ${reason}\n`);
  context.skip(reason);
}

/** A project whose data folder is `dataDir`, with one Nango provider synced once (in this process, quicker). */
async function syncedProject(root: string, dataDir: string): Promise<string> {
  await mkdir(root, { recursive: true });
  await writeFile(
    path.join(root, 'nanoclaw.config.yaml'),
    stringify({ dataDir, providers: [{ name: 'github', connections: { main: 'conn-main' } }] }),
  );
  const first = await runCliInProcess(['sync', '--json'], {
    cwd: root,
    env: { NANGO_SECRET_KEY: nango.secretKey, NANGO_HOST: nango.url },
  });
  expect(first.exitCode, first.stderr).toBe(0);
  return root;
}

/** `nanoclaw sync --force --json` on a folder it cannot write: the old token stays, the error says why. */
async function expectFailedForcedSync(cwd: string, tokenFile: string, errno: string, uid?: number) {
  const before = await readFile(tokenFile);
  const run = await nanoclaw(['sync', '--force', '--json'], cwd, uid);
  expect(run.exitCode, run.stderr).toBe(1);
  const json = JSON.parse(run.stdout) as SyncCommandJson;
  expect(json.results).toEqual([
    expect.objectContaining({
      owner: 'main',
      provider: 'github',
      state: 'error',
      usable: true,
      code: 'TOKEN_WRITE_FAILED',
      message: `cannot write ${tokenFile} (${errno})`,
    }),
  ]);
  expect(run.stderr).toContain('"code":"TOKEN_WRITE_FAILED"');
  expect((await readFile(tokenFile)).equals(before)).toBe(true);
  // A failed write removes its temp file.
  expect(await readdir(path.dirname(tokenFile))).toEqual(['github.json']);
}

describe.skipIf(!mounted.available)('on a full disk', () => {
  const fs = (mounted as { fs: TinyFilesystem }).fs;

  it('the refresher backs off to its cap with TOKEN_WRITE_FAILED (ENOSPC), keeps the old file, and writes once there is room', async () => {
    const random = seededRandom();
    const clock = new ManualClock();
    const events: NanoclawEvent[] = [];
    const logs: string[] = [];
    const resolved = resolveConfig(
      {
        dataDir: path.join(fs.dir, 'refresher-data'),
        refresh: { margin: 30 * 60 },
        nango: { host: nango.url, secretKey: nango.secretKey, timeout: 5 },
        providers: [{ name: 'github', source: 'nango', connections: { main: 'conn-refresher' } }],
      },
      { env: {}, cwd: fs.dir, configPath: null },
    );
    if ('errors' in resolved) throw new Error(resolved.errors.join('\n'));
    const config = resolved.config;
    // Expires in 20 minutes: inside the refresh margin, not yet inside the fake Nango's own.
    nango.addConnection({
      integration: 'github',
      connectionId: 'conn-refresher',
      endUserId: 'main',
      expiresAt: new Date(clock.now() + 20 * MINUTE),
    });
    const bus = new EventBus();
    bus.subscribe((event) => events.push(event));
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => logs.push(line) } });
    const sources = createSources(config);
    const folder = new TokenFolder(config.tokensDir, { group: tokenGroupFor(config) });
    const tokenSync = new TokenSync({
      config,
      folder,
      sources: sources.registry,
      events: bus,
      logger,
      now: clock.now,
    });
    const refresher = new Refresher({
      tokens: tokenSync,
      store: folder,
      events: bus,
      logger,
      settings: config.refresh,
      clock,
      random: random.next,
    });
    try {
      expect(await tokenSync.sync('main', 'github')).toMatchObject({ state: 'refreshed' });
      const file = folder.filePath('main', 'github');
      const oldBytes = await readFile(file);
      const filler = fs.fill();
      expect(filler.bytes).toBeGreaterThan(0);

      await refresher.start();
      nango.resetStats();
      const firstAttemptAt = clock.nextDueAt()!;
      const delays: number[] = [];
      for (let atCap = 0; atCap < 3;) {
        const failures = refresher.describe('main', 'github')!.failures;
        const at = clock.fireNext();
        await settle(() => {
          const state = refresher.describe('main', 'github')!;
          return !state.running && refresher.running === 0 && state.failures === failures + 1;
        }, 'a failed refresh');
        const state = refresher.describe('main', 'github')!;
        expect(state.lastError).toEqual({
          code: 'TOKEN_WRITE_FAILED',
          message: `cannot write ${file} (ENOSPC)`,
        });
        expect((await readFile(file)).equals(oldBytes)).toBe(true);
        expect(await readdir(path.dirname(file))).toEqual(['github.json']);
        delays.push(Date.parse(state.nextRefreshAt!) - at);
        if (delays.at(-1) === BACKOFF_MAX_MS) atCap++;
        if (delays.length > 30) throw new Error(`backoff never reached its cap: ${delays.join(', ')}`);
      }
      expect(delays[0]).toBe(BACKOFF_MIN_MS);
      for (let index = 1; index < delays.length; index++) {
        expect(delays[index]).toBeGreaterThanOrEqual(delays[index - 1]!);
      }
      // The first attempt asks twice (a plain read, then a forced refresh); every later one once.
      expect(nango.requestsTo('getConnection')).toHaveLength(delays.length + 1);
      const errors = events.filter((event) => event.type === 'error');
      expect(errors).toHaveLength(delays.length);
      expect(
        errors.every((event) => event.code === 'TOKEN_WRITE_FAILED' && event.message.endsWith('(ENOSPC)')),
      ).toBe(true);
      expect(logs.filter((line) => line.includes('"msg":"token sync failed"'))).toHaveLength(delays.length);

      // Room again: the next attempt writes the token Nango refreshed meanwhile.
      await unlink(filler.file);
      const recoveredAt = clock.fireNext();
      await settle(
        () => refresher.describe('main', 'github')!.failures === 0,
        'the refresh after the disk has room',
      );
      expect(refresher.describe('main', 'github')!.lastError).toBeNull();
      const written = JSON.parse(await readFile(file, 'utf8')) as { access_token: string };
      expect(written.access_token).toBe(nango.getConnection('github', 'conn-refresher')!.accessToken);
      expect(Buffer.from(JSON.stringify(written)).equals(oldBytes)).toBe(false);
      // eslint-disable-next-line no-console
      console.log(
        `ENOSPC for ${((recoveredAt - firstAttemptAt) / MINUTE).toFixed(1)} min (fake clock): ` +
          `${delays.length} attempts, ${nango.requestsTo('getConnection').length} source requests; backoff ${delays.map((delay) => Math.round(delay / 1000)).join(', ')} s`,
      );
    } finally {
      await refresher.stop();
      await sources.registry.close();
    }
  });

  it('nanoclaw sync --force says TOKEN_WRITE_FAILED (ENOSPC), exits 1 and keeps the old file', async () => {
    const cwd = await syncedProject(path.join(fs.dir, 'cli-full'), path.join(fs.dir, 'cli-full', 'data'));
    const filler = fs.fill('cli-filler');
    try {
      await expectFailedForcedSync(cwd, path.join(cwd, 'data', 'tokens', 'main', 'github.json'), 'ENOSPC');
    } finally {
      await unlink(filler.file);
    }
  });

  it('nanoclaw sync --force on a disk remounted read-only says TOKEN_WRITE_FAILED (EROFS)', async () => {
    const cwd = await syncedProject(path.join(fs.dir, 'cli-ro'), path.join(fs.dir, 'cli-ro', 'data'));
    fs.remount('ro');
    try {
      await expectFailedForcedSync(cwd, path.join(cwd, 'data', 'tokens', 'main', 'github.json'), 'EROFS');
    } finally {
      fs.remount('rw');
    }
  });
});

describe('in a token folder the process may not write', () => {
  let root: string;
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('nanoclaw sync --force says TOKEN_WRITE_FAILED (EACCES), exits 1 and keeps the old file', async (context) => {
    root = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-fault-eacces-'));
    const cwd = await syncedProject(root, path.join(root, 'data'));
    const ownerDir = path.join(root, 'data', 'tokens', 'main');
    const tokenFile = path.join(ownerDir, 'github.json');
    if (process.getuid?.() === 0) {
      // Root writes anywhere: run as the skill user, who may read the folder (its group) but not write it.
      for (const dir of [root, path.join(root, 'data'), path.join(root, 'data', 'tokens')])
        await chmod(dir, 0o755);
      await requireCliRunsAs(OTHER_USER, cwd, context);
      await expectFailedForcedSync(cwd, tokenFile, 'EACCES', OTHER_USER);
    } else {
      await chmod(ownerDir, 0o550);
      try {
        await expectFailedForcedSync(cwd, tokenFile, 'EACCES');
      } finally {
        await chmod(ownerDir, 0o750);
      }
    }
  });
});
