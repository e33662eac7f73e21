import { chmod, cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntimeFromConfig, type Runtime } from '../../../src/app/runtime.js';
import { resolveConfig } from '../../../src/config/resolve-config.js';
import { Daemon } from '../../../src/app/daemon.js';
import type { NanoclawEvent } from '../../../src/events/types.js';
import { silentLogger } from '../../../src/log/logger.js';
import { SkillCatalog } from '../../../src/sandbox/skill-catalog.js';
import { SkillRunner } from '../../../src/sandbox/skill-runner.js';
import { builtinCallbackUrl } from '../../../src/sources/builtin/builtin-urls.js';
import { dockerForTests, REPO_SKILLS_DIR, TEST_BASE_IMAGE, TEST_SKILL_IMAGE } from '../../support/docker.js';
import { LarkStandIn } from '../../support/lark-server.js';
import { withChosenPort } from '../../support/port-retry.js';

/**
 * The seed's Lark plan end to end, with the real runner, a real container (network none) and a real
 * daemon: the reference skill `lark-calendar` asks for authorization, the prompt's link starts a
 * sign-in at the Lark stand-in, the callback stores the grant, the next run reads the token; a
 * refresh rotates the refresh token; a reused refresh token and the 365-day end bring the prompt back.
 */

const PROVIDER = 'lark-calendar';
const OWNER = 'ou_7d8a6e6df7621556ce0d21922b676706ccs';
const docker = await dockerForTests();

interface Setup {
  root: string;
  lark: LarkStandIn;
  runtime: Runtime;
  daemon: Daemon;
  runner: SkillRunner;
  events: NanoclawEvent[];
}

async function start(port: number): Promise<Setup> {
  const publicUrl = `http://127.0.0.1:${port}`;
  const lark = await LarkStandIn.start({
    redirectUris: [builtinCallbackUrl(publicUrl, PROVIDER)],
    openId: OWNER,
  });
  const root = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-lark-'));
  let runtime: Runtime | null = null;
  try {
    const skillsDir = path.join(root, 'skills');
    await cp(path.join(REPO_SKILLS_DIR, PROVIDER), path.join(skillsDir, PROVIDER), { recursive: true });
    await makeReadable(skillsDir);
    const resolved = resolveConfig(
      {
        dataDir: path.join(root, 'data'),
        skillsDir,
        sandbox: { image: TEST_SKILL_IMAGE, baseImage: TEST_BASE_IMAGE, network: 'none' },
        providers: [lark.providerEntry(PROVIDER)],
      },
      { env: { NANOCLAW_PUBLIC_URL: publicUrl }, cwd: root, configPath: null },
    );
    if ('errors' in resolved) throw new Error(resolved.errors.join('\n'));
    runtime = createRuntimeFromConfig(resolved.config, [], { logger: silentLogger() });
    const events: NanoclawEvent[] = [];
    runtime.events.subscribe((event) => events.push(event));
    const daemon = await Daemon.start({ runtime, host: '127.0.0.1', port, watch: false });
    if (!docker.available) throw new Error('no Docker engine');
    const runner = new SkillRunner({
      config: resolved.config,
      catalog: await SkillCatalog.load(skillsDir),
      containers: docker.containers,
      tokenSync: runtime.tokenSync,
      sources: runtime.sources.registry,
      events: runtime.events,
      logger: runtime.logger,
      stopGraceSeconds: 1,
    });
    return { root, lark, runtime, daemon, runner, events };
  } catch (error) {
    await runtime?.close();
    await lark.close();
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}

async function makeReadable(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await makeReadable(full);
    else await chmod(full, 0o644);
  }
}

describe.skipIf(!docker.available)('the lark-calendar skill against the Lark stand-in', () => {
  let setup: Setup;

  beforeAll(async () => {
    setup = await withChosenPort((port) => start(port));
  }, 120_000);

  afterAll(async () => {
    await setup?.runner.stopAll();
    await setup?.daemon.close();
    await setup?.runtime.close();
    await setup?.lark.close();
    if (setup) await rm(setup.root, { recursive: true, force: true });
  });

  const stdout = (runId: string) =>
    setup.events
      .filter((event) => event.type === 'skill_output' && event.stream === 'stdout' && event.runId === runId)
      .map((event) => (event as Extract<NanoclawEvent, { type: 'skill_output' }>).line);

  /** Follows the prompt's link like a browser: our start route, Lark's sign-in, our callback. */
  async function signIn(connectUrl: string): Promise<void> {
    const startAnswer = await fetch(connectUrl, {
      redirect: 'manual',
      headers: { authorization: `Bearer ${setup.daemon.apiToken.token}` },
    });
    const location = startAnswer.headers.get('location') ?? '';
    expect(startAnswer.status).toBe(302);
    // The link starts a Lark sign-in, asking for the skill's scopes with PKCE S256.
    expect(location.startsWith(setup.lark.authorizationUrl)).toBe(true);
    const authorize = new URL(location);
    expect(authorize.searchParams.get('scope')).toBe('calendar:calendar offline_access');
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    const cookie = startAnswer.headers
      .getSetCookie()
      .map((line) => line.split(';')[0])
      .join('; ');
    const consent = await fetch(location, { redirect: 'manual' });
    const callback = consent.headers.get('location')!;
    const done = await fetch(callback, { headers: { cookie }, redirect: 'manual' });
    expect(done.status).toBeLessThan(400);
  }

  const check = async () => {
    const result = await setup.runner.run({ skill: PROVIDER, owner: OWNER, args: ['--check'] });
    return { result, lines: stdout(result.runId) };
  };

  async function expireGrant(): Promise<void> {
    const store = setup.runtime.sources.builtin!.store;
    const grant = (await store.read(OWNER, PROVIDER))!;
    await store.write({
      ...grant,
      obtainedAt: new Date(Date.now() - 7_200_000),
      expiresAt: new Date(Date.now() - 1000),
      generation: grant.generation + 1,
    });
    // The token file the skill reads has come to its end as well: the next launch syncs.
    const file = path.join(setup.runtime.config.tokensDir, OWNER, `${PROVIDER}.json`);
    const token = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    await setup.runtime.folder.write(
      OWNER,
      { ...token, expires_at: new Date(Date.now() - 1000).toISOString() } as never,
      new Date(),
    );
  }

  it('prompts, signs in at Lark, reads the token, refreshes with rotation, and prompts again when the grant ends', async () => {
    // 1. No grant: the skill asks, and the prompt carries the daemon's start link.
    const first = await check();
    expect(first.result).toMatchObject({
      exitCode: 0,
      reason: 'auth_required',
      authRequired: [{ provider: PROVIDER, scopes: ['calendar:calendar', 'offline_access'] }],
    });
    const prompt = setup.events.find(
      (event): event is Extract<NanoclawEvent, { type: 'auth_required' }> =>
        event.type === 'auth_required' && event.runId === first.result.runId,
    );
    expect(prompt).toMatchObject({
      owner: OWNER,
      provider: PROVIDER,
      scopes: ['calendar:calendar', 'offline_access'],
    });

    // 2. The owner follows the link; the JSON token exchange stores the grant; the skill reads a token.
    await signIn(prompt!.connectUrl!);
    const second = await check();
    expect(second.result).toMatchObject({ exitCode: 0, reason: 'exited', authRequired: [] });
    expect(JSON.parse(second.lines[0] ?? 'null')).toMatchObject({
      provider: PROVIDER,
      scopes: ['calendar:calendar', 'offline_access'],
      token_present: true,
    });
    const store = setup.runtime.sources.builtin!.store;
    const connected = (await store.read(OWNER, PROVIDER))!;

    // 3. Due for renewal: the pre-launch sync refreshes, Lark rotates the refresh token.
    await expireGrant();
    const third = await check();
    expect(third.result).toMatchObject({ exitCode: 0, reason: 'exited' });
    const rotated = (await store.read(OWNER, PROVIDER))!;
    expect(rotated.refreshToken).not.toBe(connected.refreshToken);
    expect(setup.lark.tokenRequests.map((request) => [request.grantType, request.code])).toEqual([
      ['authorization_code', 0],
      ['refresh_token', 0],
    ]);

    // 4. A reused refresh token is refused once; the grant needs authorization, the skill asks again.
    await expireGrant();
    const expired = (await store.read(OWNER, PROVIDER))!;
    await store.write({
      ...expired,
      refreshToken: connected.refreshToken,
      generation: expired.generation + 1,
    });
    const fourth = await check();
    expect(fourth.result).toMatchObject({ reason: 'auth_required' });
    expect(fourth.lines).toEqual([]);
    expect(await store.read(OWNER, PROVIDER)).toMatchObject({
      status: 'needs_auth',
      needsAuth: { code: 'REFRESH_TOKEN_REUSED' },
    });
    expect(setup.events).toContainEqual(
      expect.objectContaining({ type: 'token_needs_auth', owner: OWNER, provider: PROVIDER }),
    );

    // 5. Signed in again; then the 365-day end: Lark refuses (20037) and the skill asks again.
    await signIn(prompt!.connectUrl!);
    expect((await check()).result).toMatchObject({ reason: 'exited' });
    await expireGrant();
    setup.lark.offsetMs = 365 * 24 * 3600_000;
    const last = await check();
    expect(last.result).toMatchObject({ reason: 'auth_required' });
    expect(await store.read(OWNER, PROVIDER)).toMatchObject({ needsAuth: { code: 'GRANT_EXPIRED' } });
    expect(setup.lark.tokenRequests.map((request) => request.code)).toEqual([0, 0, 20073, 0, 20037]);
  }, 240_000);
});
