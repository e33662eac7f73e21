import { randomUUID } from 'node:crypto';
import type { ContainerInspectInfo } from 'dockerode';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NanoclawEvent } from '../../../src/events/types.js';
import type { RunResult } from '../../../src/sandbox/skill-runner.js';
import { containersWithLabel, dockerForTests } from '../../support/docker.js';
import { FakeNangoServer } from '../../support/fake-nango-server.js';
import { SkillSandbox } from '../../support/skill-sandbox.js';

const docker = await dockerForTests();

const MEMORY_BYTES = 48 * 1024 * 1024;
const PIDS_LIMIT = 16;

/**
 * Tries the limits from inside, prints what it found as one JSON line, says "ready" and waits to be
 * stopped, so the test can look at the running container from the outside.
 */
const PROBE = String.raw`
import errno, json, os, signal, sys, time

def cgroup(*candidates):
    for candidate in candidates:
        try:
            return open(candidate).read().strip()
        except OSError:
            pass
    return None

def pids_current():
    return cgroup("/sys/fs/cgroup/pids/pids.current", "/sys/fs/cgroup/pids.current")

# Fork children that wait until the engine refuses one more process.
children, fork_error, current_at_failure = [], None, None
while len(children) < 64:
    try:
        pid = os.fork()
    except OSError as error:
        fork_error = errno.errorcode.get(error.errno, str(error.errno))
        current_at_failure = pids_current()
        break
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    children.append(pid)
for pid in children:
    os.kill(pid, signal.SIGKILL)
for pid in children:
    os.waitpid(pid, 0)

# A child that asks for twice the memory limit is killed by the engine, not the skill.
hog = os.fork()
if hog == 0:
    block = b"x" * (2 * int(sys.argv[1]))
    os._exit(0)
_, status = os.waitpid(hog, 0)

print(json.dumps({
    "pidsMax": cgroup("/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/pids.max"),
    "forked": len(children),
    "forkError": fork_error,
    "pidsAtFailure": current_at_failure,
    "memoryLimit": cgroup("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory.max"),
    "hogSignal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
    "hogExit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
}), flush=True)
print("ready", flush=True)
time.sleep(60)
`;

interface ProbeReport {
  pidsMax: string | null;
  forked: number;
  forkError: string | null;
  pidsAtFailure: string | null;
  memoryLimit: string | null;
  hogSignal: number | null;
  hogExit: number | null;
}

/** Resolves with the first event that matches, or rejects after `ms`. */
function nextEvent(
  sandbox: SkillSandbox,
  matches: (event: NanoclawEvent) => boolean,
  ms: number,
): Promise<NanoclawEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`no matching event within ${ms} ms`));
    }, ms);
    const unsubscribe = sandbox.runtime.events.subscribe((event) => {
      if (!matches(event)) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(event);
    });
  });
}

describe.skipIf(!docker.available)('memory and pids limits on a real container', () => {
  let nango: FakeNangoServer;
  let sandbox: SkillSandbox;
  let inspected: ContainerInspectInfo;
  let report: ProbeReport;
  let result: RunResult;
  const runId = randomUUID();

  beforeAll(async () => {
    if (!docker.available) return;
    nango = await FakeNangoServer.start();
    sandbox = await SkillSandbox.create({
      nango,
      containers: docker.containers,
      providers: [{ name: 'google-calendar' }],
      skills: {
        limits: {
          manifest: {
            command: ['python3', '/opt/nanoclaw/skills/limits/probe.py', String(MEMORY_BYTES)],
            providers: [{ name: 'google-calendar' }],
            memory: '48m',
            pids: PIDS_LIMIT,
            // Asks for a network; the host setting (none) wins.
            network: 'bridge',
            // A safety net only: the test stops the run once it has looked.
            timeout: 60,
          },
          files: { 'probe.py': PROBE },
        },
      },
    });
    await sandbox.writeToken('alice', 'google-calendar', 'limits-test-access-token-7d2e91');

    const stop = new AbortController();
    const ready = nextEvent(
      sandbox,
      (event) => event.type === 'skill_output' && event.runId === runId && event.line === 'ready',
      30_000,
    );
    const run = sandbox.runner.run({ skill: 'limits', owner: 'alice', runId, signal: stop.signal });
    try {
      await Promise.race([
        ready,
        run.then(() => Promise.reject(new Error('the skill ended before "ready"'))),
      ]);
      const ids = await containersWithLabel(docker.docker, 'nanoclaw.run-id', runId);
      expect(ids).toHaveLength(1);
      inspected = await docker.docker.getContainer(ids[0] ?? '').inspect();
    } finally {
      stop.abort();
      result = await run;
    }
    const [line] = sandbox.stdout(runId);
    report = JSON.parse(line ?? 'null') as ProbeReport;
  });

  afterAll(async () => {
    await sandbox?.close();
    await nango?.close();
  });

  it('was inspected while it ran, and is gone after the run is stopped', async () => {
    if (!docker.available) throw new Error('unreachable: the suite is skipped without Docker');
    expect(inspected.State.Running).toBe(true);
    expect(inspected.Config.Labels).toMatchObject({ 'nanoclaw.run-id': runId, 'nanoclaw.owner': 'alice' });
    expect(result).toMatchObject({ runId, reason: 'aborted' });
    expect(await containersWithLabel(docker.docker, 'nanoclaw.run-id', runId)).toEqual([]);
  });

  it('carries the manifest memory and pids limits, with no swap beyond the memory limit', () => {
    expect(inspected.HostConfig.Memory).toBe(MEMORY_BYTES);
    expect(inspected.HostConfig.MemorySwap).toBe(MEMORY_BYTES);
    expect(inspected.HostConfig.PidsLimit).toBe(PIDS_LIMIT);
  });

  it('is hardened: read-only root, no capabilities, no new privileges, no network, non-root', () => {
    expect(inspected.HostConfig.ReadonlyRootfs).toBe(true);
    expect(inspected.HostConfig.CapDrop).toEqual(['ALL']);
    expect(inspected.HostConfig.CapAdd ?? []).toEqual([]);
    expect(inspected.HostConfig.SecurityOpt).toContain('no-new-privileges');
    expect(inspected.HostConfig.Privileged).toBe(false);
    expect(inspected.HostConfig.NetworkMode).toBe('none');
    // Attached to no network at all (engines list "none", or nothing, for a disabled network).
    expect(Object.keys(inspected.NetworkSettings.Networks).filter((name) => name !== 'none')).toEqual([]);
    expect(inspected.Config.User).toBe('10001:10001');
  });

  it("mounts the launch's token view and the skill files' snapshot, read-only, and nothing of the skills folder", async () => {
    const view = await sandbox.runtime.folder.ensureView('alice', ['google-calendar']);
    const tokenMounts = inspected.Mounts.filter((mount) => mount.Destination.startsWith('/workspace/tokens'));
    expect(tokenMounts).toEqual([
      expect.objectContaining({
        Type: 'bind',
        Source: view,
        Destination: '/workspace/tokens',
        RW: false,
      }),
    ]);
    expect((await stat(view)).isDirectory()).toBe(true);
    // The only other bind is nanoclaw's snapshot of the skill's files: nothing under the skills
    // folder is resolved by Docker.
    const others = inspected.Mounts.filter((mount) => !mount.Destination.startsWith('/workspace/tokens'));
    const snapshots = await realpath(path.join(sandbox.root, 'data', 'skill-files'));
    expect(others).toEqual([
      expect.objectContaining({
        Type: 'bind',
        Source: expect.stringMatching(/^[^\0]*\/[0-9a-f]{64}$/),
        RW: false,
      }),
    ]);
    expect(path.dirname(others[0]?.Source ?? '')).toBe(snapshots);
    expect(path.relative(await realpath(sandbox.skillsDir), others[0]?.Source ?? '').startsWith('..')).toBe(
      true,
    );
  });

  it('enforces the pids limit inside: forking stops at the limit with EAGAIN', () => {
    expect(report.pidsMax).toBe(String(PIDS_LIMIT));
    expect(report.forkError).toBe('EAGAIN');
    // The refused fork came when the container held exactly its limit, not before.
    expect(report.pidsAtFailure).toBe(String(PIDS_LIMIT));
    expect(report.forked).toBeGreaterThan(0);
    expect(report.forked).toBeLessThan(PIDS_LIMIT);
  });

  it('enforces the memory limit inside: a process asking for twice the limit is killed', () => {
    expect(Number(report.memoryLimit)).toBe(MEMORY_BYTES);
    expect(report.hogSignal).toBe(9);
    expect(report.hogExit).toBeNull();
  });
});
