import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { createRuntimeFromConfig, type Runtime } from '../../../src/app/runtime.js';
import { setUpSkills } from '../../../src/cli/skills-setup.js';
import { resolveConfig } from '../../../src/config/resolve-config.js';
import { Daemon } from '../../../src/app/daemon.js';
import { silentLogger } from '../../../src/log/logger.js';
import {
  containersWithLabel,
  dockerForTests,
  TEST_BASE_IMAGE,
  TEST_SKILL_IMAGE,
} from '../../support/docker.js';
import { FakeNangoServer } from '../../support/fake-nango-server.js';
import { tokenFingerprint } from '../../support/skill-sandbox.js';
import { waitFor } from './daemon-harness.js';

const docker = await dockerForTests();

/** The engine, looked at directly (not through the product). */
function engine() {
  if (!docker.available) throw new Error('Docker is not available');
  return docker.docker;
}

/** How long the test waits for an event the run should send: a hang fails with what came so far. */
const EVENT_DEADLINE_MS = 45_000;

/**
 * Says what it got, writes a line to stderr, prints its token's fingerprint, then waits for the
 * token to change (a refresh while it runs) and exits 3 after printing the new fingerprint.
 */
const SKILL = String.raw`
import hashlib, json, sys, time
TOKEN = "/workspace/tokens/google-calendar.json"
def fingerprint():
    with open(TOKEN) as handle:
        return hashlib.sha256(json.load(handle)["access_token"].encode()).hexdigest()[:16]
print("args:", " ".join(sys.argv[1:]), flush=True)
print("a line on stderr", file=sys.stderr, flush=True)
first = fingerprint()
print("token", first, flush=True)
deadline = time.monotonic() + 50
while time.monotonic() < deadline:
    time.sleep(0.1)
    current = fingerprint()
    if current != first:
        print("token", current, flush=True)
        sys.exit(3)
sys.exit(4)
`;

interface SseEvent {
  id: string;
  type: string;
  data: string;
  /** The event's JSON. */
  event: Record<string, unknown>;
}

/** `GET /api/events` read as a browser would, over real HTTP. */
class EventStreamReader {
  readonly events: SseEvent[] = [];
  /** Everything the stream sent, as sent. */
  raw = '';
  #buffer = '';
  #connected = false;
  #ended = false;
  readonly #wakers = new Set<() => void>();
  readonly #controller = new AbortController();
  #done: Promise<void> = Promise.resolve();

  static async open(url: string, apiToken: string): Promise<EventStreamReader> {
    const reader = new EventStreamReader();
    const response = await fetch(`${url}/api/events`, {
      headers: { authorization: `Bearer ${apiToken}` },
      signal: reader.#controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const stream = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    reader.#done = (async () => {
      try {
        for (;;) {
          const { value, done } = await stream.read();
          if (done) break;
          reader.#feed(value);
        }
      } catch {
        // Aborted by close().
      } finally {
        reader.#ended = true;
        reader.#wake();
      }
    })();
    // A first connection gets no history: only what happens once it is attached.
    await reader.#until(() => reader.#connected, 'the stream to be attached');
    return reader;
  }

  /** The first event that matches, once it has come. */
  async next(match: (event: SseEvent) => boolean, what: string): Promise<SseEvent> {
    let found: SseEvent | undefined;
    await this.#until(() => (found = this.events.find(match)) !== undefined, what);
    return found!;
  }

  async close(): Promise<void> {
    this.#controller.abort();
    await this.#done;
  }

  #feed(text: string): void {
    this.raw += text;
    this.#buffer += text;
    let end: number;
    while ((end = this.#buffer.indexOf('\n\n')) >= 0) {
      const block = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      const fields = { id: '', type: '', data: '' };
      for (const line of block.split('\n')) {
        if (line === ': connected') this.#connected = true;
        else if (line.startsWith('id: ')) fields.id = line.slice(4);
        else if (line.startsWith('event: ')) fields.type = line.slice(7);
        else if (line.startsWith('data: ')) fields.data = line.slice(6);
      }
      if (fields.type !== '') {
        this.events.push({ ...fields, event: JSON.parse(fields.data) as Record<string, unknown> });
      }
    }
    this.#wake();
  }

  #wake(): void {
    for (const wake of [...this.#wakers]) wake();
  }

  #until(check: () => boolean, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#wakers.delete(wake);
        reject(new Error(`no ${what} within ${EVENT_DEADLINE_MS} ms; the stream so far:\n${this.raw}`));
      }, EVENT_DEADLINE_MS);
      const wake = () => {
        if (check()) {
          clearTimeout(timer);
          this.#wakers.delete(wake);
          resolve();
        } else if (this.#ended) {
          clearTimeout(timer);
          this.#wakers.delete(wake);
          reject(new Error(`the stream ended before ${what}; it sent:\n${this.raw}`));
        }
      };
      this.#wakers.add(wake);
      wake();
    });
  }
}

/** Swallows what the skills setup would tell a terminal (an image build notice). */
const quiet = new Writable({ write: (_chunk, _encoding, callback) => callback() });

describe.skipIf(!docker.available)('a skill run started over HTTP, on the real runner and engine', () => {
  let root: string;
  let nango: FakeNangoServer;
  let runtime: Runtime;
  let daemon: Daemon;
  const shutdown = new AbortController();

  beforeAll(async () => {
    if (!docker.available) return;
    nango = await FakeNangoServer.start();
    root = await mkdtemp(path.join(tmpdir(), 'nanoclaw-web-skill-runs-'));
    const skillsDir = path.join(root, 'skills');
    await mkdir(path.join(skillsDir, 'greeter'), { recursive: true });
    await writeFile(
      path.join(skillsDir, 'greeter', 'skill.yaml'),
      toYaml({
        name: 'greeter',
        description: 'says what it got and which token it holds',
        command: ['python3', '/opt/nanoclaw/skills/greeter/main.py'],
        providers: [{ name: 'google-calendar' }],
        timeout: 60,
      }),
    );
    await writeFile(path.join(skillsDir, 'greeter', 'main.py'), SKILL);
    // The skill user (10001) reads the mounted skill folder; mkdtemp made the root private.
    for (const dir of [root, skillsDir, path.join(skillsDir, 'greeter')]) await chmod(dir, 0o755);
    for (const file of ['skill.yaml', 'main.py']) await chmod(path.join(skillsDir, 'greeter', file), 0o644);

    const resolved = resolveConfig(
      {
        dataDir: path.join(root, 'data'),
        skillsDir,
        nango: { host: nango.url, secretKey: nango.secretKey, timeout: 5 },
        sandbox: { image: TEST_SKILL_IMAGE, baseImage: TEST_BASE_IMAGE, network: 'none' },
        providers: [{ name: 'google-calendar', source: 'nango', scopes: ['calendar.readonly'] }],
      },
      { env: {}, cwd: root, configPath: null },
    );
    if ('errors' in resolved) throw new Error(resolved.errors.join('\n'));
    runtime = createRuntimeFromConfig(resolved.config, [], { logger: silentLogger() });
    // The catalog and runner `nanoclaw serve` builds, on this engine.
    const { catalog, runner } = await setUpSkills(
      runtime,
      { stderr: quiet, signal: shutdown.signal },
      { containers: docker.containers, stopGraceSeconds: 1 },
    );
    daemon = await Daemon.start({
      runtime,
      host: '127.0.0.1',
      port: 0,
      skills: { catalog, runner },
      watch: false,
    });
  });

  afterAll(async () => {
    shutdown.abort();
    await daemon?.close();
    await runtime?.close();
    await nango?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('streams skill_started, its output and skill_exited on /api/events, and removes the container', async () => {
    const owner = 'sky';
    const connection = nango.addConnection({
      integration: 'google-calendar',
      connectionId: owner,
      endUserId: owner,
    });
    // The connection object changes with a rotation: keep the token the run starts with.
    const firstToken = connection.accessToken;
    const apiToken = daemon.apiToken.token;
    const stream = await EventStreamReader.open(daemon.url, apiToken);
    try {
      const response = await fetch(`${daemon.url}/api/skills/greeter/run`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ owner, args: ['--days', '3'] }),
        signal: AbortSignal.timeout(15_000),
      });
      expect(response.status).toBe(202);
      const accepted = (await response.json()) as { runId: string; skill: string; owner: string };
      expect(accepted).toEqual({ runId: expect.any(String), skill: 'greeter', owner });
      const { runId } = accepted;
      const ofRun = (type: string) => (event: SseEvent) => event.type === type && event.event.runId === runId;

      // The first token, synced before the launch, is what the skill reads.
      await stream.next(
        (event) => ofRun('skill_output')(event) && String(event.event.line).startsWith('token '),
        "the skill's first token line",
      );
      // While it runs: one container for this run, on no network.
      const running = await containersWithLabel(engine(), 'nanoclaw.run-id', runId);
      expect(running).toHaveLength(1);
      const inspected = await engine().getContainer(running[0]!).inspect();
      expect(inspected.HostConfig.NetworkMode).toBe('none');

      // A refresh while it runs: the skill sees the new token in its mounted folder and exits.
      const renewed = nango.rotateToken('google-calendar', owner);
      expect(await runtime.tokenSync.sync(owner, 'google-calendar', { force: true })).toMatchObject({
        usable: true,
      });
      const exited = await stream.next(ofRun('skill_exited'), 'skill_exited');
      expect(exited.event).toMatchObject({ owner, skill: 'greeter', exitCode: 3, reason: 'exited' });

      const runEvents = stream.events.filter((event) => event.event.runId === runId);
      expect(runEvents[0]?.event).toMatchObject({ type: 'skill_started', owner, skill: 'greeter' });
      expect(runEvents.at(-1)).toBe(exited);
      const lines = (name: 'stdout' | 'stderr') =>
        runEvents
          .filter((event) => event.type === 'skill_output' && event.event.stream === name)
          .map((event) => event.event.line);
      expect(lines('stdout')).toEqual([
        'args: --days 3',
        `token ${tokenFingerprint(firstToken)}`,
        `token ${tokenFingerprint(renewed.accessToken)}`,
      ]);
      expect(lines('stderr')).toEqual(['a line on stderr']);

      // Gone once the run is over, whatever the order of the event and the removal.
      await waitFor(
        async () => (await containersWithLabel(engine(), 'nanoclaw.run-id', runId)).length === 0,
        15_000,
        "the run's container to be removed",
      );

      // No token and no key on the stream, whatever the events carried.
      for (const secret of [apiToken, ...nango.secrets]) expect(stream.raw).not.toContain(secret);
    } finally {
      await stream.close();
    }
  });
});
