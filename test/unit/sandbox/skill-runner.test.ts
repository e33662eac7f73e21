import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { DEFAULT_SKILL_LIMITS } from '../../../src/config/skill-limits.js';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import type { NangoProviderConfig } from '../../../src/config/types.js';
import { EventBus } from '../../../src/events/event-bus.js';
import type { NanoclawEvent } from '../../../src/events/types.js';
import { silentLogger } from '../../../src/log/logger.js';
import { SkillCatalog } from '../../../src/sandbox/skill-catalog.js';
import { SkillRunner } from '../../../src/sandbox/skill-runner.js';
import type {
  AuthorizationRequest,
  FetchOutcome,
  FetchTokenRequest,
  TokenSource,
  TokenSources,
} from '../../../src/sources/token-source.js';
import { TokenFolder } from '../../../src/tokens/token-folder.js';
import { TokenSync } from '../../../src/tokens/token-sync.js';
import { FakeContainerRuntime } from '../../support/docker-fake-container-runtime.js';

const SECRET = 'secret-access-token-do-not-print';

function provider(name: string): NangoProviderConfig {
  return {
    name,
    source: 'nango',
    integration: name,
    scopes: ['read'],
    exposeRefreshToken: false,
    connections: {},
  };
}

/** A token source that answers from memory and records what was asked. */
class RecordingSource implements TokenSource, TokenSources {
  readonly kind = 'nango' as const;
  readonly fetches: FetchTokenRequest[] = [];
  readonly authorizations: AuthorizationRequest[] = [];
  answer: (request: FetchTokenRequest) => Promise<FetchOutcome> = async () => ({
    status: 'needs_auth',
    code: 'NO_CONNECTION',
    reason: 'not connected',
  });
  connectUrl: (request: AuthorizationRequest) => Promise<string | null> = async (request) =>
    `https://connect.example/${request.owner}/${request.provider.name}`;

  async fetchToken(request: FetchTokenRequest): Promise<FetchOutcome> {
    this.fetches.push(request);
    return this.answer(request);
  }
  async authorizationUrl(request: AuthorizationRequest): Promise<string | null> {
    this.authorizations.push(request);
    return this.connectUrl(request);
  }
  async disconnect(): Promise<void> {}
  async close(): Promise<void> {}
  sourceFor(): TokenSource {
    return this;
  }
}

let root: string;
let skillsDir: string;
let containers: FakeContainerRuntime;
let source: RecordingSource;
let events: EventBus;
let seen: NanoclawEvent[];
let folder: TokenFolder;
let tokenSync: TokenSync;

async function writeSkill(name: string, yaml: string): Promise<void> {
  await mkdir(path.join(skillsDir, name), { recursive: true });
  await writeFile(path.join(skillsDir, name, 'skill.yaml'), yaml);
}

async function newRunner(options: { network?: 'manifest' | 'none'; grace?: number } = {}) {
  const catalog = await SkillCatalog.load(skillsDir);
  return new SkillRunner({
    config: {
      dataDir: path.join(root, 'data'),
      skillsDir,
      sandbox: {
        image: 'nanoclaw-skill:latest',
        baseImage: 'nanoclaw-base:bookworm',
        network: options.network ?? 'manifest',
        tokenGroup: null,
        limits: DEFAULT_SKILL_LIMITS,
      },
    },
    catalog,
    containers,
    tokenSync,
    sources: source,
    events,
    logger: silentLogger(),
    stopGraceSeconds: options.grace ?? 0.05,
    process: { host: 'test-host', pid: process.pid },
  });
}

async function writeToken(owner: string, name: string): Promise<void> {
  const now = new Date();
  await folder.write(
    owner,
    {
      provider: name,
      access_token: SECRET,
      token_type: 'Bearer',
      expires_at: new Date(Date.now() + 3600_000).toISOString(),
      scopes: ['read'],
      synced_at: now.toISOString(),
    },
    now,
  );
}

const ofType = <T extends NanoclawEvent['type']>(type: T) =>
  seen.filter((event): event is Extract<NanoclawEvent, { type: T }> => event.type === type);

/**
 * Resolves once every call the spied async methods got so far has settled, and what those calls
 * started in turn (a read after a listing) has too.
 */
async function quiet(spies: readonly MockInstance[]): Promise<void> {
  for (let settled = -1; ;) {
    const results = spies.flatMap((spy) => spy.mock.results);
    if (results.length === settled) return;
    settled = results.length;
    await Promise.allSettled(results.map((result) => result.value as unknown));
    // Everything chained on those promises runs before the next turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Resolves once `count` more skills have started (their containers run). */
function skillsStarted(count: number): Promise<void> {
  let left = count;
  return new Promise((resolve) => {
    const unsubscribe = events.subscribe((event) => {
      if (event.type !== 'skill_started' || --left > 0) return;
      unsubscribe();
      resolve();
    });
  });
}

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-runner-'));
  skillsDir = path.join(root, 'skills');
  containers = new FakeContainerRuntime();
  source = new RecordingSource();
  events = new EventBus();
  seen = [];
  events.subscribe((event) => seen.push(event));
  folder = new TokenFolder(path.join(root, 'data', 'tokens'));
  tokenSync = new TokenSync({
    config: {
      providers: [provider('google-calendar'), provider('github'), provider('dropbox')],
      refresh: { marginMs: 300_000, maxAgeMs: 300_000, concurrency: 4 },
    },
    folder,
    sources: source,
    events,
    logger: silentLogger(),
  });
  await writeSkill(
    'calendar',
    [
      'name: calendar',
      'command: [python3, /opt/nanoclaw/skills/calendar/main.py]',
      'providers:',
      '  - name: google-calendar',
      '    scopes: [calendar, calendar.events]',
      '  - name: github',
      'timeout: 30',
      'memory: 64m',
      'pids: 32',
      'network: bridge',
    ].join('\n'),
  );
  await writeSkill('plain', 'name: plain\ncommand: [python3, -c, "pass"]\n');
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('SkillRunner.run', () => {
  it('streams lines per stream, reports the exit code and removes the container', async () => {
    containers.behaviour = (container) => {
      container.write('stdout', 'first li');
      container.write('stdout', 'ne\nsecond\r\n');
      container.stderr('warning');
      container.write('stdout', 'no newline at the end');
      container.exit(7);
    };
    const runner = await newRunner();
    const result = await runner.run({ skill: 'plain', owner: 'alice' });

    expect(result).toMatchObject({
      skill: 'plain',
      owner: 'alice',
      exitCode: 7,
      reason: 'exited',
      authRequired: [],
    });
    expect(ofType('skill_output').map(({ stream, line }) => [stream, line])).toEqual([
      ['stdout', 'first line'],
      ['stdout', 'second'],
      ['stderr', 'warning'],
      ['stdout', 'no newline at the end'],
    ]);
    expect(seen.map((event) => event.type)).toEqual([
      'skill_started',
      'skill_output',
      'skill_output',
      'skill_output',
      'skill_output',
      'skill_exited',
    ]);
    expect(ofType('skill_exited')[0]).toMatchObject({ runId: result.runId, exitCode: 7, reason: 'exited' });
    expect(containers.remaining).toEqual([]);
  });

  it("creates a hardened container with only the launch's token view, read-only, and the skill's files copied in", async () => {
    const runner = await newRunner();
    const result = await runner.run({ skill: 'calendar', owner: 'alice', args: ['--check'] });
    const [container] = containers.created;
    const ownerDir = path.join(root, 'data', 'tokens', 'alice');
    const view = await new TokenFolder(path.join(root, 'data', 'tokens')).ensureView('alice', [
      'google-calendar',
      'github',
    ]);
    expect(container?.spec).toMatchObject({
      image: 'nanoclaw-skill:latest',
      command: ['python3', '/opt/nanoclaw/skills/calendar/main.py', '--check'],
      user: '10001:10001',
      capDrop: ['ALL'],
      securityOpt: ['no-new-privileges'],
      readonlyRootfs: true,
      memoryBytes: 64 * 1024 * 1024,
      pidsLimit: 32,
      networkMode: 'bridge',
      mounts: [
        { source: view, target: '/workspace/tokens', readOnly: true },
        {
          source: expect.stringMatching(/\/data\/skill-files\/[0-9a-f]{64}$/),
          target: '/opt/nanoclaw/skills/calendar',
          readOnly: true,
        },
      ],
      labels: {
        'nanoclaw.managed': 'true',
        'nanoclaw.skill': 'calendar',
        'nanoclaw.owner': 'alice',
        'nanoclaw.run-id': result.runId,
      },
    });
    // The folder exists before the launch (Docker would create a root-owned one otherwise), and its
    // group is added when it is neither the skill user's nor root's.
    const gid = (await stat(ownerDir)).gid;
    expect(container?.spec.groupAdd).toEqual(gid === 10001 || gid === 0 ? [] : [String(gid)]);
  });

  it('forces no network when the host says none', async () => {
    const runner = await newRunner({ network: 'none' });
    await runner.run({ skill: 'calendar', owner: 'alice' });
    expect(containers.created[0]?.spec.networkMode).toBe('none');
  });

  it('syncs the declared providers before launch, asking the source only for files that are not fresh', async () => {
    await writeToken('alice', 'google-calendar');
    const runner = await newRunner();
    await runner.run({ skill: 'calendar', owner: 'alice' });
    expect(source.fetches.map((request) => [request.owner, request.provider.name])).toEqual([
      ['alice', 'github'],
    ]);
  });

  it('launches even when the source fails, so the skill can say what it needs', async () => {
    source.answer = async () => {
      throw new Error('source down');
    };
    containers.behaviour = (container) => {
      container.stdout('AUTH_REQUIRED:github');
      container.exit(0);
    };
    const runner = await newRunner();
    const result = await runner.run({ skill: 'calendar', owner: 'alice' });
    expect(result.reason).toBe('auth_required');
    expect(containers.created).toHaveLength(1);
  });

  it('announces AUTH_REQUIRED while the container still runs, with the connect URL, once per provider', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const announcedWhileRunning: boolean[] = [];
    events.subscribe((event) => {
      if (event.type === 'auth_required') {
        announcedWhileRunning.push(containers.created[0]?.state === 'running');
        release();
      }
    });
    containers.behaviour = async (container) => {
      container.stdout('AUTH_REQUIRED:google-calendar:calendar,calendar.events');
      container.stdout('AUTH_REQUIRED:google-calendar:calendar');
      container.stdout('AUTH_REQUIRED:github');
      await released;
      container.stdout('after the prompt');
      container.exit(0);
    };
    const runner = await newRunner();
    const result = await runner.run({ skill: 'calendar', owner: 'alice' });

    expect(announcedWhileRunning[0]).toBe(true);
    expect(ofType('auth_required')).toEqual([
      expect.objectContaining({
        owner: 'alice',
        provider: 'google-calendar',
        scopes: ['calendar', 'calendar.events'],
        skill: 'calendar',
        runId: result.runId,
        connectUrl: 'https://connect.example/alice/google-calendar',
      }),
      // No scopes on the line: the manifest's scopes for that provider.
      expect.objectContaining({
        provider: 'github',
        scopes: [],
        connectUrl: 'https://connect.example/alice/github',
      }),
    ]);
    expect(result).toMatchObject({
      exitCode: 0,
      reason: 'auth_required',
      authRequired: [
        { provider: 'google-calendar', scopes: ['calendar', 'calendar.events'] },
        { provider: 'github', scopes: [] },
      ],
    });
    // Prompts are not output; everything else is.
    expect(ofType('skill_output').map((event) => event.line)).toEqual(['after the prompt']);
    const types = seen.map((event) => event.type);
    expect(types.lastIndexOf('auth_required')).toBeLessThan(types.indexOf('skill_exited'));
  });

  it('treats undeclared providers, stderr, malformed and over-long lines as ordinary output', async () => {
    const longPrompt = `AUTH_REQUIRED:github:${'x'.repeat(70 * 1024)}`;
    containers.behaviour = (container) => {
      container.stdout('AUTH_REQUIRED:dropbox:files');
      container.stderr('AUTH_REQUIRED:github');
      container.stdout(' AUTH_REQUIRED:github');
      container.stdout('AUTH_REQUIRED:github:repo,,user');
      container.stdout(longPrompt);
      container.exit(0);
    };
    const runner = await newRunner();
    const result = await runner.run({ skill: 'calendar', owner: 'alice' });
    expect(result.reason).toBe('exited');
    expect(ofType('auth_required')).toEqual([]);
    const outputs = ofType('skill_output');
    expect(outputs.map((event) => [event.stream, event.line.slice(0, 40), event.truncated ?? false])).toEqual(
      [
        ['stdout', 'AUTH_REQUIRED:dropbox:files', false],
        ['stderr', 'AUTH_REQUIRED:github', false],
        ['stdout', ' AUTH_REQUIRED:github', false],
        ['stdout', 'AUTH_REQUIRED:github:repo,,user', false],
        ['stdout', longPrompt.slice(0, 40), true],
      ],
    );
    expect(outputs[4]?.line).toHaveLength(64 * 1024);
  });

  it('finds a prompt split into single bytes, and one ending in CRLF', async () => {
    containers.behaviour = (container) => {
      for (const byte of Buffer.from('AUTH_REQUIRED:github:repo\n'))
        container.write('stdout', Buffer.of(byte));
      container.write('stdout', 'AUTH_REQUIRED:google-calendar\r\n');
      container.exit(0);
    };
    const runner = await newRunner();
    const result = await runner.run({ skill: 'calendar', owner: 'alice' });
    expect(result.authRequired.map((request) => request.provider)).toEqual(['github', 'google-calendar']);
  });

  it('announces without a link when the source cannot make one', async () => {
    source.connectUrl = async () => {
      throw new Error('nango is down');
    };
    containers.behaviour = (container) => {
      container.stdout('AUTH_REQUIRED:github');
      container.exit(0);
    };
    const runner = await newRunner();
    await runner.run({ skill: 'calendar', owner: 'alice' });
    expect(ofType('auth_required')).toEqual([
      expect.objectContaining({ provider: 'github', connectUrl: null }),
    ]);
  });

  it('stops a skill that runs past its timeout (SIGTERM, then SIGKILL), reports 124 and removes it', async () => {
    await writeSkill('sleepy', 'name: sleepy\ncommand: [sleep, "60"]\ntimeout: 0.05\n');
    containers.behaviour = (container) => {
      container.ignoreTerm();
      container.stdout('sleeping');
    };
    const runner = await newRunner({ grace: 0.05 });
    const result = await runner.run({ skill: 'sleepy', owner: 'alice' });
    expect(result).toMatchObject({ exitCode: 124, reason: 'timeout' });
    expect(containers.calls.filter((call) => call.method === 'stop')).toHaveLength(1);
    expect(containers.created[0]?.exitCode).toBe(137);
    expect(ofType('skill_exited')[0]).toMatchObject({ exitCode: 124, reason: 'timeout' });
    expect(containers.remaining).toEqual([]);
  });

  it('stops and removes the container when the caller aborts', async () => {
    const controller = new AbortController();
    containers.behaviour = (container) => {
      container.stdout('working');
    };
    events.subscribe((event) => {
      if (event.type === 'skill_output') controller.abort();
    });
    const runner = await newRunner();
    const result = await runner.run({ skill: 'plain', owner: 'alice', signal: controller.signal });
    expect(result).toMatchObject({ reason: 'aborted', exitCode: 130 });
    expect(containers.remaining).toEqual([]);
  });

  it('starts nothing when aborted before the launch', async () => {
    const runner = await newRunner();
    const result = await runner.run({ skill: 'plain', owner: 'alice', signal: AbortSignal.abort() });
    expect(result.reason).toBe('aborted');
    expect(containers.created).toEqual([]);
  });

  it('stopAll stops every run in progress', async () => {
    containers.behaviour = () => {};
    const runner = await newRunner();
    const started = skillsStarted(2);
    const runs = [
      runner.run({ skill: 'plain', owner: 'alice' }),
      runner.run({ skill: 'plain', owner: 'bob' }),
    ];
    await started;
    expect(runner.activeRuns).toBe(2);
    await runner.stopAll();
    expect((await Promise.all(runs)).map((result) => result.reason)).toEqual(['aborted', 'aborted']);
    expect(runner.activeRuns).toBe(0);
    expect(containers.remaining).toEqual([]);
    expect(() => runner.start({ skill: 'plain', owner: 'carol' })).toThrow(
      expect.objectContaining({ code: 'SHUTTING_DOWN' }),
    );
  });

  it('start records the run at once and hands back its id and end', async () => {
    containers.behaviour = () => {};
    const runner = await newRunner();
    const started = skillsStarted(1);
    const { runId, done } = runner.start({ skill: 'plain', owner: 'alice' });
    expect(runner.activeRuns).toBe(1);
    await started;
    await runner.stopAll();
    expect(await done).toMatchObject({ runId, reason: 'aborted' });
    expect(runner.activeRuns).toBe(0);
  });

  it('removes the container when it cannot start, and throws', async () => {
    containers.failures.set('start', new Error('exec: "python3": executable file not found'));
    const runner = await newRunner();
    await expect(runner.run({ skill: 'plain', owner: 'alice' })).rejects.toThrow(/executable file not found/);
    expect(containers.created).toHaveLength(1);
    expect(containers.remaining).toEqual([]);
    expect(ofType('skill_started')).toEqual([]);
  });

  it('reports failed (125) when the engine loses the container, and still removes it', async () => {
    containers.failures.set('wait', new Error('connection reset'));
    containers.behaviour = () => {};
    const runner = await newRunner();
    const result = await runner.run({ skill: 'plain', owner: 'alice' });
    expect(result).toMatchObject({ reason: 'failed', exitCode: 125 });
    expect(containers.remaining).toEqual([]);
  });

  it('refuses a skill whose provider is not configured, before creating anything', async () => {
    await writeSkill('mail', 'name: mail\ncommand: [x]\nproviders:\n  - name: gmail\n');
    const runner = await newRunner();
    await expect(runner.run({ skill: 'mail', owner: 'alice' })).rejects.toMatchObject({
      code: 'UNKNOWN_PROVIDER',
      message: 'skill "mail" declares provider "gmail", which is not configured in nanoclaw.config.yaml',
    });
    expect(containers.created).toEqual([]);
  });

  it('uses the run id a caller names, and refuses one that is not a UUID', async () => {
    const runner = await newRunner();
    const runId = '0b6f2a4e-5c1d-4e8f-9a7b-3c2d1e0f9a8b';
    const result = await runner.run({ skill: 'plain', owner: 'alice', runId });
    expect(result.runId).toBe(runId);
    expect(containers.created[0]?.spec.labels['nanoclaw.run-id']).toBe(runId);
    await expect(runner.run({ skill: 'plain', owner: 'alice', runId: 'x,y=z' })).rejects.toMatchObject({
      code: 'USAGE',
    });
    expect(containers.created).toHaveLength(1);
  });

  it('refuses bad owners and unknown skills', async () => {
    const runner = await newRunner();
    await expect(runner.run({ skill: 'plain', owner: '../bob' })).rejects.toMatchObject({
      code: 'INVALID_NAME',
    });
    await expect(runner.run({ skill: 'nope', owner: 'alice' })).rejects.toMatchObject({
      code: 'UNKNOWN_SKILL',
    });
    expect(containers.created).toEqual([]);
  });

  it('never puts a token into an event', async () => {
    await writeToken('alice', 'google-calendar');
    await writeToken('alice', 'github');
    containers.behaviour = (container) => {
      container.stdout('AUTH_REQUIRED:github');
      container.exit(0);
    };
    const runner = await newRunner();
    await runner.run({ skill: 'calendar', owner: 'alice' });
    expect(JSON.stringify(seen)).not.toContain(SECRET);
  });
});

describe('SkillRunner output redaction', () => {
  it('scrubs the tokens the run was given from the output a skill prints, on both streams', async () => {
    await writeToken('alice', 'google-calendar');
    containers.behaviour = (container) => {
      container.stdout(`debug: using ${SECRET} now`);
      container.stderr(`${SECRET}${SECRET}`);
      container.stdout('nothing secret here');
      container.exit(0);
    };
    const runner = await newRunner();
    await runner.run({ skill: 'calendar', owner: 'alice' });
    expect(ofType('skill_output').map(({ stream, line }) => [stream, line])).toEqual([
      ['stdout', 'debug: using [redacted] now'],
      ['stderr', '[redacted][redacted]'],
      ['stdout', 'nothing secret here'],
    ]);
    expect(JSON.stringify(seen)).not.toContain(SECRET);
  });

  it('also scrubs a token refreshed while the skill runs', async () => {
    await writeToken('alice', 'google-calendar');
    const refreshed = 'refreshed-access-token-also-secret';
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    containers.behaviour = async (container) => {
      await gate;
      container.stdout(`now using ${refreshed}`);
      container.exit(0);
    };
    const runner = await newRunner();
    // The run learns tokens by reading the owner's folder: these say when it has done so.
    const folderReads = [vi.spyOn(folder, 'listProviders'), vi.spyOn(folder, 'read')];
    const started = skillsStarted(1);
    const running = runner.run({ skill: 'calendar', owner: 'alice' });
    await started;
    // Learning the tokens present at the start is over: only the sync below can teach the new one.
    await quiet(folderReads);
    const now = new Date();
    await folder.write(
      'alice',
      {
        provider: 'google-calendar',
        access_token: refreshed,
        token_type: 'Bearer',
        expires_at: new Date(Date.now() + 3600_000).toISOString(),
        scopes: ['read'],
        synced_at: now.toISOString(),
      },
      now,
    );
    events.emit({ type: 'token_synced', owner: 'alice', provider: 'google-calendar', expiresAt: null });
    // Printing before the run has read the synced file would fail the test, never pass it.
    await quiet(folderReads);
    release();
    await running;
    expect(ofType('skill_output').map(({ line }) => line)).toEqual(['now using [redacted]']);
  });
});

describe('SkillRunner images and leftovers', () => {
  it('builds the default image from Dockerfile.skill when it is missing', async () => {
    containers.images.clear();
    await writeFile(path.join(skillsDir, 'plain', 'main.py'), 'print("hi")\n');
    const runner = await newRunner();
    expect(await runner.ensureImage()).toBe('built');
    expect(await runner.ensureImage()).toBe('present');
    expect(containers.builds).toHaveLength(1);
    const [build] = containers.builds;
    expect(build).toMatchObject({
      dockerfile: 'Dockerfile.skill',
      tag: 'nanoclaw-skill:latest',
      buildArgs: { BASE_IMAGE: 'nanoclaw-base:bookworm' },
    });
    const listing = build?.context.toString('latin1') ?? '';
    expect(listing).toContain('Dockerfile.skill');
    expect(listing).toContain('skills/plain/main.py');
    expect(listing).toContain('ARG BASE_IMAGE');
  });

  it('does not build a missing image that a manifest names: it says so', async () => {
    await writeSkill('custom', 'name: custom\nimage: example/custom:1\ncommand: [x]\n');
    const runner = await newRunner();
    await expect(runner.run({ skill: 'custom', owner: 'alice' })).rejects.toMatchObject({
      code: 'IMAGE_NOT_FOUND',
    });
    expect(containers.builds).toEqual([]);
  });

  it('removes leftovers of dead processes only', async () => {
    const dead = containers.addForeign({
      'nanoclaw.managed': 'true',
      'nanoclaw.host': 'test-host',
      'nanoclaw.pid': '4194305',
    });
    const live = containers.addForeign({
      'nanoclaw.managed': 'true',
      'nanoclaw.host': 'test-host',
      'nanoclaw.pid': String(process.ppid),
    });
    const unrelated = containers.addForeign({ 'com.example': 'x' });
    const runner = await newRunner();
    expect(await runner.cleanupLeftovers()).toEqual([dead.id]);
    expect(containers.remaining.map((container) => container.id).sort()).toEqual(
      [live.id, unrelated.id].sort(),
    );
  });
});
