import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunResult } from '../../../src/sandbox/skill-runner.js';
import { dockerForTests } from '../../support/docker.js';
import { FakeNangoServer } from '../../support/fake-nango-server.js';
import { SkillSandbox, tokenFingerprint } from '../../support/skill-sandbox.js';

const docker = await dockerForTests();

/**
 * Watches /workspace/tokens from inside: prints one JSON line each time what it sees changes (the
 * files, and the fingerprint of the calendar token), "torn" if a file ever fails to parse, and ends
 * once the folder, after holding a token, is empty.
 */
const WATCHER = String.raw`
import hashlib, json, os, time

def look():
    files = sorted(os.listdir("/workspace/tokens"))
    fingerprint = None
    if "google-calendar.json" in files:
        try:
            token = json.load(open("/workspace/tokens/google-calendar.json"))["access_token"]
            fingerprint = hashlib.sha256(token.encode()).hexdigest()[:16]
        except FileNotFoundError:
            return look()
        except ValueError:
            print("torn", flush=True)
    return {"files": files, "fingerprint": fingerprint}

last = None
seen_token = False
deadline = time.time() + 50
while time.time() < deadline:
    now = look()
    if now != last:
        print(json.dumps(now), flush=True)
        last = now
    seen_token = seen_token or bool(now["files"])
    if seen_token and not now["files"]:
        break
    time.sleep(0.02)
`;

interface Seen {
  files: string[];
  fingerprint: string | null;
}

describe.skipIf(!docker.available)('the token view, seen from inside a running container', () => {
  let nango: FakeNangoServer;
  let sandbox: SkillSandbox;
  let result: RunResult;
  const runId = randomUUID();
  const first = 'view-first-access-token-4b1c7e';
  const second = 'view-second-access-token-9a3f02';

  const seen = (): Seen[] =>
    sandbox
      .stdout(runId)
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Seen);

  beforeAll(async () => {
    if (!docker.available) return;
    nango = await FakeNangoServer.start();
    sandbox = await SkillSandbox.create({
      nango,
      containers: docker.containers,
      providers: [{ name: 'google-calendar' }, { name: 'github' }, { name: 'gmail' }],
      skills: {
        watcher: {
          manifest: {
            command: ['python3', '/opt/nanoclaw/skills/watcher/watch.py'],
            providers: [{ name: 'google-calendar' }],
            timeout: 60,
          },
          files: { 'watch.py': WATCHER },
        },
      },
    });
    await sandbox.writeToken('alice', 'google-calendar', first);
    await sandbox.writeToken('alice', 'github', 'alice-github-token-never-shown-1');
    await sandbox.writeToken('alice', 'gmail', 'alice-gmail-token-never-shown-22');

    const running = sandbox.runner.run({ skill: 'watcher', owner: 'alice', runId });
    await vi.waitFor(() => expect(seen()[0]?.fingerprint).toBe(tokenFingerprint(first)), {
      timeout: 30_000,
      interval: 50,
    });
    // A refresh on the host while the container runs.
    await sandbox.writeToken('alice', 'google-calendar', second);
    // Another provider of the same owner written meanwhile: never part of this view.
    await sandbox.writeToken('alice', 'github', 'alice-github-token-never-shown-3');
    await vi.waitFor(() => expect(seen().at(-1)?.fingerprint).toBe(tokenFingerprint(second)), {
      timeout: 15_000,
      interval: 50,
    });
    // Disconnected while it runs.
    await sandbox.runtime.folder.remove('alice', 'google-calendar');
    result = await running;
  }, 120_000);

  afterAll(async () => {
    await sandbox?.close();
    await nango?.close();
  });

  it('shows only the declared provider, reads the refresh in place, never torn, and loses it on disconnect', () => {
    expect(result).toMatchObject({ exitCode: 0, reason: 'exited' });
    expect(sandbox.stdout(runId)).not.toContain('torn');
    expect(seen()).toEqual([
      { files: ['google-calendar.json'], fingerprint: tokenFingerprint(first) },
      { files: ['google-calendar.json'], fingerprint: tokenFingerprint(second) },
      { files: [], fingerprint: null },
    ]);
  });
});
