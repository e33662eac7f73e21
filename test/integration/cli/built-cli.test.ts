import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SyncCommandJson } from '../../../src/cli/commands/sync.js';
import { BuiltCliFixture } from '../../support/built-cli.js';
import { FakeNangoServer } from '../../support/fake-nango-server.js';

/** What only serve, run, connect, doctor or demo need: a sync or a status must never load them (a run loads only Docker). */
// pg: only a shared store (PostgreSQL) needs it, and it loads then.
const HEAVY_PACKAGES = ['fastify', 'dockerode', 'chokidar', 'oidc-provider', 'pg'];
/** A stack frame as Node prints it. */
const STACK_FRAME = /^\s+at .+[:(]/m;

let cli: BuiltCliFixture;
let server: FakeNangoServer;
let project: string;
let env: Record<string, string>;

beforeAll(async () => {
  cli = await BuiltCliFixture.build();
  server = await FakeNangoServer.start();
  project = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-built-cli-'));
  await writeFile(
    path.join(project, 'nanoclaw.config.yaml'),
    stringify({ providers: [{ name: 'google-calendar' }] }),
  );
  server.addConnection({ integration: 'google-calendar', endUserId: 'main' });
  env = { NANGO_SECRET_KEY: server.secretKey, NANGO_HOST: server.url };
}, 120_000);

afterAll(async () => {
  await server?.close();
  await cli?.remove();
  if (project) await rm(project, { recursive: true, force: true });
});

describe('the built CLI loads only what a command uses', () => {
  it('a sync that asks the source loads its SDK, and nothing of the server, Docker or the demo', async () => {
    const { run, packages } = await cli.packagesLoadedBy(['sync', '--force', '--json'], {
      cwd: project,
      env,
    });
    expect(run.exitCode, run.stderr).toBe(0);
    // The recording sees the packages a command loads: the Nango SDK, for a sync that asks Nango.
    expect(packages).toContain('@nangohq/node');
    for (const name of HEAVY_PACKAGES) expect(packages).not.toContain(name);
  });

  it('a warm sync (the file is fresh) asks no source and loads no SDK', async () => {
    await cli.run(['sync'], { cwd: project, env });
    server.resetStats();
    const { run, packages } = await cli.packagesLoadedBy(['sync', '--json'], { cwd: project, env });
    expect(run.exitCode, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as SyncCommandJson).results[0]).toMatchObject({ fetched: false });
    expect(server.requests).toHaveLength(0);
    for (const name of [...HEAVY_PACKAGES, '@nangohq/node']) expect(packages).not.toContain(name);
  });

  it('a status loads none of them either, nor the token sources it never asks', async () => {
    const { run, packages, ownModules } = await cli.packagesLoadedBy(['status'], { cwd: project, env });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toContain('google-calendar');
    for (const name of [...HEAVY_PACKAGES, '@nangohq/node', 'oauth4webapi']) {
      expect(packages).not.toContain(name);
    }
    expect([...ownModules].filter((file) => /^sources\/(builtin|nango)\//.test(file))).toEqual([]);
    // The recording sees our own modules: the token folder, which a status reads.
    expect(ownModules).toContain('tokens/token-folder.ts');
  });

  it('a status still reports configuration errors about the token sources, as a sync does', async () => {
    const broken = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-built-cli-sources-'));
    try {
      await writeFile(
        path.join(broken, 'nanoclaw.config.yaml'),
        stringify({
          providers: [
            { name: 'acme', source: 'builtin', clientId: 'c' },
            { name: 'github', source: 'nango' },
          ],
        }),
      );
      const status = await cli.run(['status', '--json'], { cwd: broken });
      const sync = await cli.run(['sync', '--json'], { cwd: broken });
      for (const run of [status, sync]) {
        expect(run.exitCode, run.stderr).toBe(2);
        expect(JSON.parse(run.stdout)).toMatchObject({
          error: {
            code: 'INVALID_CONFIG',
            problems: [
              expect.stringMatching(/^providers\[0\]\.issuer: /),
              expect.stringMatching(/^nango\.secretKey: /),
            ],
          },
        });
      }
      expect(status.stdout).toBe(sync.stdout);
    } finally {
      await rm(broken, { recursive: true, force: true });
    }
  });

  it('the recording would notice: a sync carries the token sources, for when it must ask one', async () => {
    const { run, packages, ownModules } = await cli.packagesLoadedBy(['sync', '--json'], {
      cwd: project,
      env,
    });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(packages).toContain('oauth4webapi');
    expect(ownModules).toContain('sources/builtin/builtin-source.ts');
    expect(ownModules).toContain('sources/nango/nango-source.ts');
  });

  it('a run loads Docker, and nothing of the server, the file watcher or the OAuth server', async () => {
    // An unknown skill: the command, the configuration and the catalog load, no container starts.
    const { run, packages } = await cli.packagesLoadedBy(['run', 'no-such-skill'], { cwd: project, env });
    expect(run.exitCode, run.stderr).toBe(2);
    expect(run.stderr).toContain('UNKNOWN_SKILL');
    expect(packages).toContain('dockerode');
    for (const name of ['fastify', 'chokidar', 'oidc-provider', '@nangohq/node']) {
      expect(packages).not.toContain(name);
    }
  });

  it('the recording would notice: doctor loads Docker', async () => {
    const { packages } = await cli.packagesLoadedBy(['doctor', '--json'], { cwd: project, env });
    expect(packages).toContain('dockerode');
  });
});

describe("the built CLI keeps V8's code for sync and status", () => {
  it('the first run stores it in a folder of its own, the next runs take it as it is', async () => {
    const cacheHome = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-built-cli-cache-'));
    try {
      const withCache = { cwd: project, env: { ...env, XDG_CACHE_HOME: cacheHome } };
      const entries = path.join(cacheHome, 'nanoclaw', 'v8');
      const first = await cli.run(['status', '--json'], withCache);
      expect(first.exitCode, first.stderr).toBe(0);
      const names = (await readdir(entries)).filter((name) => name.endsWith('.v8'));
      expect(names).toEqual([expect.stringMatching(/^hot-status-/)]);
      const stored = await stat(path.join(entries, names[0]!));

      const second = await cli.run(['status', '--json'], withCache);
      expect(second).toEqual(first);
      const again = await stat(path.join(entries, names[0]!));
      // Taken by V8 as it was: a refused entry would have been written anew.
      expect([again.ino, again.mtimeMs]).toEqual([stored.ino, stored.mtimeMs]);

      await cli.run(['sync'], withCache);
      expect((await readdir(entries)).filter((name) => name.endsWith('.v8')).sort()).toEqual([
        names[0],
        expect.stringMatching(/^hot-sync-/),
      ]);
    } finally {
      await rm(cacheHome, { recursive: true, force: true });
    }
  });

  it('runs as well when there is no cache folder to be had', async () => {
    const notAFolder = path.join(project, 'not-a-folder');
    await writeFile(notAFolder, '');
    const run = await cli.run(['status', '--json'], {
      cwd: project,
      env: { ...env, XDG_CACHE_HOME: notAFolder },
    });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
  });
});

describe('the built CLI ends quietly', () => {
  it('stops quietly when the reader of its output has gone, with the exit code of what it did', async () => {
    for (const args of [['--help'], ['sync', '--help'], ['status'], ['status', '--json']]) {
      const run = await cli.run(args, { cwd: project, env, closeStdout: true });
      expect(run.stderr, args.join(' ')).toBe('');
      expect(run.exitCode, args.join(' ')).toBe(0);
    }
  });

  it('stops a running command quietly when the reader of its output has gone', async () => {
    // serve prints a line once it listens, then runs until stopped: the closed pipe stops it.
    const run = await cli.run(['serve', '--port', '0', '--json'], {
      cwd: project,
      env,
      closeStdout: true,
      timeoutMs: 20_000,
    });
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
  });

  it('prints one line and no stack trace for failures, whatever the command', async () => {
    const broken = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-built-cli-broken-'));
    try {
      await writeFile(path.join(broken, 'nanoclaw.config.yaml'), 'providers: [ {name: ');
      const runs = [
        await cli.run(['sync'], { cwd: broken, env }),
        await cli.run(['status', '--owner', '../etc'], { cwd: project, env }),
        await cli.run(['sync', 'not-configured'], { cwd: project, env }),
        await cli.run(['run', 'no-such-skill'], { cwd: project, env }),
        await cli.run(['connect', 'no-such-provider', '--no-wait'], { cwd: project, env }),
        await cli.run(['serve', '--port', 'many'], { cwd: project, env }),
        await cli.run(['no-such-command'], { cwd: project, env }),
      ];
      for (const run of runs) {
        expect(run.exitCode).toBe(2);
        expect(run.stderr).toMatch(/\S/);
        expect(run.stderr).not.toMatch(STACK_FRAME);
      }
    } finally {
      await rm(broken, { recursive: true, force: true });
    }
  });
});
