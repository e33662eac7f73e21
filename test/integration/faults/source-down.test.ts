import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenGroupFor } from '../../../src/app/runtime.js';
import type { NanoclawConfig } from '../../../src/config/types.js';
import { resolveConfig } from '../../../src/config/resolve-config.js';
import { BACKOFF_MAX_MS, BACKOFF_MIN_MS } from '../../../src/daemon/backoff.js';
import { Refresher } from '../../../src/daemon/refresher.js';
import { EventBus } from '../../../src/events/event-bus.js';
import type { NanoclawEvent } from '../../../src/events/types.js';
import { createLogger } from '../../../src/log/logger.js';
import { SkillCatalog } from '../../../src/sandbox/skill-catalog.js';
import { SkillRunner } from '../../../src/sandbox/skill-runner.js';
import { createSources, type CreatedSources } from '../../../src/sources/create-sources.js';
import { TokenFolder } from '../../../src/tokens/token-folder.js';
import { TokenSync } from '../../../src/tokens/token-sync.js';
import { FakeContainerRuntime } from '../../support/docker-fake-container-runtime.js';
import { ManualClock, settle } from '../../support/fault-clock.js';
import { seededRandom } from '../../support/fault-random.js';
import { FakeNangoServer, nangoReplies, type FakeConnection } from '../../support/fake-nango-server.js';
import { containersWithLabel, dockerForTests } from '../../support/docker.js';
import { SkillSandbox, tokenFingerprint } from '../../support/skill-sandbox.js';

/**
 * The token source down for hours, on a fake clock: the refresher and the pre-launch sync talk to
 * a real (fake) Nango over HTTP and write real files, only time is simulated.
 */

const HOUR = 3600_000;
const MARGIN_MS = 3 * HOUR;

let dir: string;
let nango: FakeNangoServer;
let connection: FakeConnection;
let config: NanoclawConfig;
let sources: CreatedSources;
let clock: ManualClock;
let events: NanoclawEvent[];
let logs: string[];
let tokenSync: TokenSync;
let folder: TokenFolder;
let refresher: Refresher;
let runner: SkillRunner;
const random = seededRandom();

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-fault-down-'));
  const skillsDir = path.join(dir, 'skills');
  await mkdir(path.join(skillsDir, 'reader'), { recursive: true });
  await writeFile(
    path.join(skillsDir, 'reader', 'skill.yaml'),
    'name: reader\ncommand: [python3, -c, "pass"]\nproviders:\n  - name: github\ntimeout: 30\n',
  );
  clock = new ManualClock();
  nango = await FakeNangoServer.start();
  connection = nango.addConnection({
    integration: 'github',
    connectionId: 'conn-main',
    endUserId: 'main',
    expiresAt: new Date(clock.now() + 10 * HOUR),
  });
  const resolved = resolveConfig(
    {
      dataDir: path.join(dir, 'data'),
      skillsDir,
      refresh: { margin: MARGIN_MS / 1000, maxAge: 300 },
      nango: { host: nango.url, secretKey: nango.secretKey, timeout: 5 },
      providers: [{ name: 'github', source: 'nango', connections: { main: 'conn-main' } }],
    },
    { env: {}, cwd: dir, configPath: null },
  );
  if ('errors' in resolved) throw new Error(resolved.errors.join('\n'));
  config = resolved.config;

  events = [];
  logs = [];
  const bus = new EventBus();
  bus.subscribe((event) => events.push(event));
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => logs.push(line) } });
  sources = createSources(config);
  folder = new TokenFolder(config.tokensDir, { group: tokenGroupFor(config) });
  tokenSync = new TokenSync({
    config,
    folder,
    sources: sources.registry,
    events: bus,
    logger,
    now: clock.now,
  });
  refresher = new Refresher({
    tokens: tokenSync,
    store: folder,
    events: bus,
    logger,
    settings: config.refresh,
    clock,
    random: random.next,
  });

  // A container that reads its owner's mounted token folder as a skill would.
  const containers = new FakeContainerRuntime();
  containers.behaviour = async (container) => {
    const mount = container.spec.mounts.find((each) => each.target === '/workspace/tokens')!;
    try {
      const token = JSON.parse(await readFile(path.join(mount.source, 'github.json'), 'utf8')) as {
        access_token: string;
        expires_at: string;
      };
      const valid = Date.parse(token.expires_at) > clock.now();
      container.stdout(`${valid ? 'valid' : 'expired'} ${tokenFingerprint(token.access_token)}`);
    } catch {
      container.stdout('AUTH_REQUIRED:github');
    }
    container.exit(0);
  };
  runner = new SkillRunner({
    config,
    catalog: await SkillCatalog.load(skillsDir),
    containers,
    tokenSync,
    sources: sources.registry,
    events: bus,
    logger,
  });
});

afterAll(async () => {
  await refresher?.stop();
  await sources?.registry.close();
  await nango?.close();
  await rm(dir, { recursive: true, force: true });
  const transcript = `${logs.join('')}\n${JSON.stringify(events)}`;
  for (const secret of nango?.secrets ?? []) expect(transcript).not.toContain(secret);
});

/** Runs the skill: the pre-launch sync, then a container that prints what token it read. */
async function launch(): Promise<string[]> {
  const before = events.length;
  const result = await runner.run({ skill: 'reader', owner: 'main' });
  expect(result).toMatchObject({ exitCode: 0, reason: 'exited', authRequired: [] });
  return events
    .slice(before)
    .filter((event) => event.type === 'skill_output')
    .map((event) => (event as { line: string }).line);
}

/** Fires the refresher's timer and waits (on real time) for the refresh it starts to be planned again. */
async function nextRefresh(): Promise<{ at: number; failures: number; delayMs: number }> {
  const before = refresher.describe('main', 'github')!;
  const at = clock.fireNext();
  await settle(() => {
    const state = refresher.describe('main', 'github');
    return (
      state !== null &&
      !state.running &&
      refresher.running === 0 &&
      state.nextRefreshAt !== null &&
      (state.failures !== before.failures || state.nextRefreshAt !== before.nextRefreshAt)
    );
  }, 'the refresh to finish and be planned again');
  const state = refresher.describe('main', 'github')!;
  return { at, failures: state.failures, delayMs: Date.parse(state.nextRefreshAt!) - at };
}

it(`keeps launching with the last good token through hours of outage, backs off to ${BACKOFF_MAX_MS / 60_000} minutes, and recovers within one step (seed ${random.seed})`, async () => {
  const first = await tokenSync.sync('main', 'github');
  expect(first).toMatchObject({ state: 'refreshed', usable: true });
  const file = folder.filePath('main', 'github');
  const goodBytes = await readFile(file);
  const goodToken = connection.accessToken;
  await refresher.start();
  const planned = Date.parse(refresher.describe('main', 'github')!.nextRefreshAt!);
  expect(planned - clock.now()).toBeGreaterThanOrEqual(10 * HOUR - MARGIN_MS);

  // The source goes down: first answering 503, later 200s with a body that is not a connection.
  const outageStart = clock.now();
  nango.reply({ route: 'getConnection' }, nangoReplies.serverError(503));
  nango.resetStats();

  // An hour in, the file is stale: the pre-launch sync asks, fails, and the launch goes on.
  clock.skip(HOUR);
  expect(await launch()).toEqual([`valid ${tokenFingerprint(goodToken)}`]);
  expect(nango.requestsTo('getConnection')).toHaveLength(1);

  const delays: number[] = [];
  let launches = 1;
  for (;;) {
    const step = await nextRefresh();
    expect(step.failures).toBe(delays.length + 1);
    delays.push(step.delayMs);
    const atCap = delays.filter((delay) => delay === BACKOFF_MAX_MS).length;
    if (atCap === 6) {
      nango.clearReplies();
      nango.reply({ route: 'getConnection' }, nangoReplies.malformedJson());
    }
    if (atCap === 3 || atCap === 9) {
      expect(await launch()).toEqual([`valid ${tokenFingerprint(goodToken)}`]);
      launches++;
    }
    if (atCap === 12) break;
    if (delays.length > 40) throw new Error(`backoff never held at the cap: ${delays.join(', ')}`);
  }
  const outageMs = clock.now() - outageStart;

  // Backoff: 1 s first, never shrinking, capped, and held at the cap (no Retry-After was given).
  expect(delays[0]).toBe(BACKOFF_MIN_MS);
  for (let index = 1; index < delays.length; index++) {
    expect(delays[index]).toBeGreaterThanOrEqual(delays[index - 1]!);
    expect(delays[index]).toBeLessThanOrEqual(BACKOFF_MAX_MS);
  }
  expect(delays.slice(-12)).toEqual(Array(12).fill(BACKOFF_MAX_MS));
  // No tight loop: one request per refresh attempt and per stale launch, nothing more.
  expect(nango.requestsTo('getConnection')).toHaveLength(delays.length + launches);
  // Nothing was deleted or rewritten, and the token is still good after the long outage.
  expect(await readdir(path.dirname(file))).toEqual(['github.json']);
  expect((await readFile(file)).equals(goodBytes)).toBe(true);
  expect(outageMs).toBeGreaterThan(7 * HOUR);
  expect(first.expiresAt && Date.parse(first.expiresAt) > clock.now()).toBe(true);
  expect(refresher.describe('main', 'github')!.lastError?.code).toBe('INVALID_SOURCE_RESPONSE');
  expect(
    events.filter((event) => event.type === 'token_needs_auth' || event.type === 'auth_required'),
  ).toEqual([]);

  // The source comes back, with a token Nango refreshed meanwhile; the next attempt picks it up.
  nango.clearReplies();
  const cameBackAt = clock.now();
  const renewed = nango.rotateToken('github', 'conn-main', { expiresAt: new Date(clock.now() + 6 * HOUR) });
  const recovery = await nextRefresh();
  expect(recovery.failures).toBe(0);
  expect(recovery.at - cameBackAt).toBeLessThanOrEqual(BACKOFF_MAX_MS);
  expect(refresher.describe('main', 'github')!.lastError).toBeNull();
  expect(recovery.delayMs).toBeGreaterThan(6 * HOUR - MARGIN_MS - BACKOFF_MAX_MS);
  const stored = JSON.parse(await readFile(file, 'utf8')) as { access_token: string };
  expect(stored.access_token).toBe(renewed.accessToken);
  expect(events.filter((event) => event.type === 'token_synced')).toHaveLength(2);

  // The next launch reads the new token without asking the source again.
  const requests = nango.requestsTo('getConnection').length;
  expect(await launch()).toEqual([`valid ${tokenFingerprint(renewed.accessToken)}`]);
  expect(nango.requestsTo('getConnection')).toHaveLength(requests);

  // eslint-disable-next-line no-console
  console.log(
    `source down for ${(outageMs / HOUR).toFixed(1)} h (fake clock): ${delays.length} refresh attempts, ` +
      `${launches} launches, ${requests - 1} source requests; backoff ${delays.map((delay) => Math.round(delay / 1000)).join(', ')} s`,
  );
});

const docker = await dockerForTests();

/** Prints what token it was given: `valid|expired <fingerprint>`, or asks for one when there is none. */
const TOKEN_READER = String.raw`
import datetime, hashlib, json
try:
    token = json.load(open("/workspace/tokens/github.json"))
except OSError:
    print("AUTH_REQUIRED:github")
    raise SystemExit(0)
expires = datetime.datetime.fromisoformat(token["expires_at"].replace("Z", "+00:00"))
state = "valid" if expires > datetime.datetime.now(datetime.timezone.utc) else "expired"
print(state, hashlib.sha256(token["access_token"].encode()).hexdigest()[:16])
`;

describe.skipIf(!docker.available)('a real container launched while the source is down', () => {
  it('starts with the still-valid token it had, after the pre-launch sync failed', async () => {
    if (!docker.available) return;
    await using outageNango = await FakeNangoServer.start();
    await using sandbox = await SkillSandbox.create({
      nango: outageNango,
      containers: docker.containers,
      providers: [{ name: 'github' }],
      skills: {
        'token-reader': {
          manifest: {
            command: ['python3', '/opt/nanoclaw/skills/token-reader/main.py'],
            providers: [{ name: 'github' }],
            timeout: 60,
          },
          files: { 'main.py': TOKEN_READER },
        },
      },
    });
    const owner = 'outage';
    // The last sync left a token with three minutes to go: inside the refresh margin (5 minutes), so
    // the launch asks the source first, and still good for the run.
    const connection = outageNango.addConnection({
      integration: 'github',
      connectionId: owner,
      endUserId: owner,
      expiresAt: new Date(Date.now() + 3 * 60_000),
    });
    await sandbox.writeToken(owner, 'github', connection.accessToken, 3 * 60_000);
    const file = sandbox.runtime.folder.filePath(owner, 'github');
    const goodBytes = await readFile(file);

    outageNango.reply({ route: 'getConnection' }, nangoReplies.serverError(503));
    outageNango.resetStats();
    const result = await sandbox.runner.run({ skill: 'token-reader', owner });

    expect(result).toMatchObject({ exitCode: 0, reason: 'exited', authRequired: [] });
    expect(sandbox.stdout(result.runId)).toEqual([`valid ${tokenFingerprint(connection.accessToken)}`]);
    // The sync did ask, and was refused; the file it had stayed as it was.
    expect(outageNango.requestsTo('getConnection', { connectionId: owner })).toHaveLength(1);
    expect((await readFile(file)).equals(goodBytes)).toBe(true);
    expect(
      sandbox.events.filter((event) => event.type === 'token_needs_auth' || event.type === 'auth_required'),
    ).toEqual([]);
    expect(await containersWithLabel(docker.docker, 'nanoclaw.run-id', result.runId)).toEqual([]);
    const everything = JSON.stringify(sandbox.events);
    for (const secret of outageNango.secrets) expect(everything).not.toContain(secret);
  });
});
