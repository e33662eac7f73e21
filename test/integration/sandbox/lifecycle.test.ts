import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SkillRunner } from '../../../src/sandbox/skill-runner.js';
import { containersWithLabel, dockerForTests, TEST_SKILL_IMAGE } from '../../support/docker.js';
import { FakeNangoServer } from '../../support/fake-nango-server.js';
import { SkillSandbox, tokenFingerprint } from '../../support/skill-sandbox.js';

const docker = await dockerForTests();

/** Prints the token's fingerprint whenever it changes; exits 0 after the first change. */
const WATCH_TOKEN = String.raw`
import hashlib, json, sys, time
seen = None
deadline = time.time() + 40
while time.time() < deadline:
    try:
        with open("/workspace/tokens/google-calendar.json") as handle:
            token = json.load(handle)["access_token"]
        current = hashlib.sha256(token.encode()).hexdigest()[:16]
    except (OSError, ValueError, KeyError) as error:
        current = "unreadable:" + type(error).__name__
    if current != seen:
        print(current, flush=True)
        if seen is not None and not current.startswith("unreadable"):
            sys.exit(0)
        seen = current
    time.sleep(0.05)
sys.exit(1)
`;

describe.skipIf(!docker.available)(
  'runs in real containers: live tokens, live prompts, timeouts, clean-up',
  () => {
    let nango: FakeNangoServer;
    let sandbox: SkillSandbox;

    beforeAll(async () => {
      if (!docker.available) return;
      nango = await FakeNangoServer.start();
      sandbox = await SkillSandbox.create({
        nango,
        containers: docker.containers,
        providers: [{ name: 'google-calendar' }],
        stopGraceSeconds: 1,
        skills: {
          watcher: {
            manifest: {
              command: ['python3', '/opt/nanoclaw/skills/watcher/watch.py'],
              providers: [{ name: 'google-calendar' }],
              timeout: 50,
            },
            files: { 'watch.py': WATCH_TOKEN },
          },
          asker: {
            manifest: {
              command: [
                'python3',
                '-c',
                'import time; print("AUTH_REQUIRED:google-calendar:calendar", flush=True); time.sleep(30)',
              ],
              providers: [{ name: 'google-calendar', scopes: ['calendar'] }],
              timeout: 50,
            },
          },
          stubborn: {
            manifest: {
              command: [
                'python3',
                '-c',
                'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print("started", flush=True); time.sleep(120)',
              ],
              // Long enough for a loaded machine to start Python and print before the timeout hits.
              timeout: 5,
            },
          },
          sleeper: {
            manifest: {
              command: ['python3', '-c', 'import time; print("started", flush=True); time.sleep(120)'],
            },
          },
        },
      });
    });

    afterAll(async () => {
      await sandbox?.close();
      await nango?.close();
    });

    it('sees a token refreshed on the host (atomic rename) while the container runs', async () => {
      if (!docker.available) return;
      const oldToken = 'first-token-aaaaaaaaaaaa';
      const newToken = 'second-token-bbbbbbbbbbb';
      await sandbox.writeToken('main', 'google-calendar', oldToken);
      const file = path.join(sandbox.tokensDir, 'main', 'google-calendar.json');
      const oldInode = (await stat(file)).ino;

      let refreshed: Promise<void> | null = null;
      const unsubscribe = sandbox.runtime.events.subscribe((event) => {
        if (
          event.type === 'skill_output' &&
          event.line === tokenFingerprint(oldToken) &&
          refreshed === null
        ) {
          refreshed = sandbox.writeToken('main', 'google-calendar', newToken);
        }
      });
      try {
        const result = await sandbox.runner.run({ skill: 'watcher', owner: 'main' });
        await refreshed;
        expect(result).toMatchObject({ exitCode: 0, reason: 'exited' });
        expect(sandbox.stdout(result.runId)).toEqual([
          tokenFingerprint(oldToken),
          tokenFingerprint(newToken),
        ]);
      } finally {
        unsubscribe();
      }
      // The write replaced the file (new inode): a single-file mount would still show the old one.
      expect((await stat(file)).ino).not.toBe(oldInode);
    });

    it('announces AUTH_REQUIRED while the skill still runs, and an abort leaves no container', async () => {
      if (!docker.available) return;
      const controller = new AbortController();
      let runningAtPrompt: boolean | null = null;
      let promptRunId: string | null = null;
      const unsubscribe = sandbox.runtime.events.subscribe((event) => {
        if (event.type !== 'auth_required' || event.skill !== 'asker') return;
        promptRunId = event.runId;
        void containersWithLabel(docker.docker, 'nanoclaw.run-id', event.runId ?? '')
          .then((ids) => docker.docker.getContainer(ids[0] ?? 'missing').inspect())
          .then((info) => (runningAtPrompt = info.State.Running))
          .catch(() => (runningAtPrompt = false))
          .finally(() => controller.abort());
      });
      try {
        const result = await sandbox.runner.run({ skill: 'asker', owner: 'main', signal: controller.signal });
        expect(promptRunId).toBe(result.runId);
        expect(runningAtPrompt).toBe(true);
        expect(result).toMatchObject({
          reason: 'aborted',
          exitCode: 130,
          authRequired: [{ provider: 'google-calendar', scopes: ['calendar'] }],
        });
        const types = sandbox.events
          .filter((event) => 'runId' in event && event.runId === result.runId)
          .map((event) => event.type);
        expect(types).toEqual(['skill_started', 'auth_required', 'skill_exited']);
        expect(await containersWithLabel(docker.docker, 'nanoclaw.run-id', result.runId)).toEqual([]);
      } finally {
        unsubscribe();
      }
    });

    it('kills a skill that runs past its timeout and ignores SIGTERM: exit 124, container removed', async () => {
      if (!docker.available) return;
      const result = await sandbox.runner.run({ skill: 'stubborn', owner: 'main' });
      expect(result).toMatchObject({ reason: 'timeout', exitCode: 124 });
      expect(sandbox.stdout(result.runId)).toEqual(['started']);
      expect(sandbox.ofType('skill_exited').find((event) => event.runId === result.runId)).toMatchObject({
        exitCode: 124,
        reason: 'timeout',
      });
      expect(await containersWithLabel(docker.docker, 'nanoclaw.run-id', result.runId)).toEqual([]);
    });

    it('stopAll (daemon shutdown) stops running skills and removes their containers', async () => {
      if (!docker.available) return;
      const started = new Promise<string>((resolve) => {
        const unsubscribe = sandbox.runtime.events.subscribe((event) => {
          if (event.type === 'skill_output' && event.skill === 'sleeper') {
            unsubscribe();
            resolve(event.runId);
          }
        });
      });
      const running = sandbox.runner.run({ skill: 'sleeper', owner: 'main' });
      const runId = await started;
      expect(await containersWithLabel(docker.docker, 'nanoclaw.run-id', runId)).toHaveLength(1);
      await sandbox.runner.stopAll();
      expect((await running).reason).toBe('aborted');
      expect(await containersWithLabel(docker.docker, 'nanoclaw.run-id', runId)).toEqual([]);
    });

    it('cleans up leftovers of a process that is gone, and leaves those of a live one', async () => {
      if (!docker.available) return;
      // A pid that surely ran and ended on this host: a child that already exited.
      const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
      // A host name of this test alone: any other process cleaning up on this engine (another test
      // file, a daemon) sees these containers as another host's and leaves them to this runner.
      const host = `nanoclaw-test-${randomUUID()}`;
      const runner = new SkillRunner({
        config: sandbox.runtime.config,
        catalog: sandbox.catalog,
        containers: docker.containers,
        tokenSync: sandbox.runtime.tokenSync,
        sources: sandbox.runtime.sources.registry,
        events: sandbox.runtime.events,
        logger: sandbox.runtime.logger,
        process: { host, pid: process.pid },
      });
      const create = async (pid: number) => {
        const container = await docker.docker.createContainer({
          Image: TEST_SKILL_IMAGE,
          Cmd: ['sleep', '300'],
          Labels: { 'nanoclaw.managed': 'true', 'nanoclaw.host': host, 'nanoclaw.pid': String(pid) },
          HostConfig: { NetworkMode: 'none', Init: true },
        });
        await container.start();
        return container.id;
      };
      const orphan = await create(deadPid);
      const alive = await create(process.ppid);
      try {
        // The test's own runner, on the real host, must not take another host's leftovers.
        expect(await sandbox.runner.cleanupLeftovers()).not.toContain(orphan);
        const removed = await runner.cleanupLeftovers();
        expect(removed).toContain(orphan);
        expect(removed).not.toContain(alive);
        const remaining = await containersWithLabel(docker.docker, 'nanoclaw.managed', 'true');
        expect(remaining).not.toContain(orphan);
        expect(remaining).toContain(alive);
      } finally {
        await docker.docker.getContainer(alive).remove({ force: true });
        await docker.docker
          .getContainer(orphan)
          .remove({ force: true })
          .catch(() => {});
      }
    });
  },
);
