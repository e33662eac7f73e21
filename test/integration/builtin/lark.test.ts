import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinCallbackUrl } from '../../../src/sources/builtin/builtin-urls.js';
import { newBrowserBinding } from '../../../src/sources/builtin/pending-authorizations.js';
import type { BuiltinSource } from '../../../src/sources/builtin/builtin-source.js';
import { validateOwnerId } from '../../../src/names.js';
import { LarkStandIn } from '../../support/lark-server.js';
import { builtinProvider, builtinSource, NEVER, PUBLIC_URL, temporaryDataDir } from './fixture.js';
import { resolveConfig } from '../../../src/config/resolve-config.js';
import type { NanoclawConfig } from '../../../src/config/types.js';

/**
 * The built-in source against a loopback stand-in that answers as Lark's open platform documents:
 * `preset: lark`, connect (PKCE S256, JSON token request), refresh with rotation, a refused reused
 * refresh token, the 365-day end, one refresh across processes, and a kill -9 between Lark's answer
 * and the durable write.
 */

const PROVIDER = 'lark-calendar';
const OWNER = 'ou_7d8a6e6df7621556ce0d21922b676706ccs';
const CALLBACK = builtinCallbackUrl(PUBLIC_URL, PROVIDER);
const WORKER = fileURLToPath(new URL('./refresh-worker.ts', import.meta.url));
const REPOSITORY = fileURLToPath(new URL('../../../', import.meta.url));

let lark: LarkStandIn;
beforeAll(async () => {
  lark = await LarkStandIn.start({ redirectUris: [CALLBACK], openId: OWNER });
});
afterAll(() => lark.close());

function larkConfig(dataDir: string): NanoclawConfig {
  const resolved = resolveConfig(
    { providers: [lark.providerEntry(PROVIDER)] },
    { env: { NANOCLAW_DATA_DIR: dataDir, NANOCLAW_PUBLIC_URL: PUBLIC_URL }, cwd: dataDir, configPath: null },
  );
  if ('errors' in resolved) throw new Error(resolved.errors.join('\n'));
  return resolved.config;
}

async function connect(source: BuiltinSource): Promise<void> {
  const browserBinding = newBrowserBinding();
  const { redirectUrl } = await source.beginAuthorization({
    owner: OWNER,
    provider: PROVIDER,
    browserBinding,
    signal: NEVER,
  });
  const consent = await fetch(redirectUrl, { redirect: 'manual' });
  const callback = new URL(consent.headers.get('location')!);
  await source.completeAuthorization({
    provider: PROVIDER,
    query: callback.searchParams,
    browserBinding,
    signal: NEVER,
  });
}

/** Makes the stored access token due for renewal, as time would. */
async function expireAccessToken(source: BuiltinSource): Promise<void> {
  const grant = (await source.store.read(OWNER, PROVIDER))!;
  await source.store.write({
    ...grant,
    obtainedAt: new Date(Date.now() - 7_200_000),
    expiresAt: new Date(Date.now() - 1000),
    generation: grant.generation + 1,
  });
}

const fetchToken = (source: BuiltinSource, config: NanoclawConfig) =>
  source.fetchToken({
    owner: OWNER,
    provider: builtinProvider(config, PROVIDER),
    mode: 'cached',
    signal: NEVER,
  });

describe('preset: lark against the Lark stand-in', () => {
  it('uses the open_id as the owner id', () => {
    expect(validateOwnerId(OWNER)).toBe(OWNER);
  });

  it('connects with PKCE S256 and a JSON token request, then refreshes with rotation', async () => {
    await using data = await temporaryDataDir();
    const config = larkConfig(data.dir);
    const source = builtinSource(config);
    try {
      const before = lark.tokenRequests.length;
      await connect(source);
      expect(lark.challengeMethods.at(-1)).toBe('S256');
      const connected = (await source.store.read(OWNER, PROVIDER))!;
      expect(connected).toMatchObject({ status: 'active', scopes: ['calendar:calendar', 'offline_access'] });
      expect(connected.refreshToken).toMatch(/^ur-/);

      expect(await fetchToken(source, config)).toMatchObject({
        status: 'token',
        token: { accessToken: connected.accessToken },
      });
      await expireAccessToken(source);
      const refreshed = await fetchToken(source, config);
      expect(refreshed).toMatchObject({ status: 'token' });
      const stored = (await source.store.read(OWNER, PROVIDER))!;
      expect(stored.refreshToken).not.toBe(connected.refreshToken);
      expect(stored).toMatchObject({ refreshSentAt: null, status: 'active' });
      expect(lark.tokenRequests.slice(before)).toEqual([
        {
          grantType: 'authorization_code',
          contentType: 'application/json; charset=utf-8',
          status: 200,
          code: 0,
        },
        { grantType: 'refresh_token', contentType: 'application/json; charset=utf-8', status: 200, code: 0 },
      ]);
    } finally {
      await source.close();
    }
  });

  it('marks the grant as needing authorization when Lark refuses a reused refresh token (20073), without asking twice', async () => {
    await using data = await temporaryDataDir();
    const config = larkConfig(data.dir);
    const source = builtinSource(config);
    try {
      await connect(source);
      const first = (await source.store.read(OWNER, PROVIDER))!;
      await expireAccessToken(source);
      await fetchToken(source, config);
      // A stale copy of the grant comes back (a restored backup): its refresh token was used already.
      const current = (await source.store.read(OWNER, PROVIDER))!;
      await source.store.write({
        ...current,
        refreshToken: first.refreshToken,
        expiresAt: new Date(Date.now() - 1000),
        generation: current.generation + 1,
      });
      const before = lark.tokenRequests.length;
      const outcome = await fetchToken(source, config);
      expect(outcome).toMatchObject({ status: 'needs_auth', code: 'REFRESH_TOKEN_REUSED' });
      expect(outcome.status === 'needs_auth' && outcome.reason).toContain('already used (20073)');
      expect(await fetchToken(source, config)).toMatchObject({
        status: 'needs_auth',
        code: 'REFRESH_TOKEN_REUSED',
      });
      expect(lark.tokenRequests.slice(before).map((request) => request.code)).toEqual([20073]);
      expect(await source.store.read(OWNER, PROVIDER)).toMatchObject({
        status: 'needs_auth',
        refreshToken: null,
      });
    } finally {
      await source.close();
    }
  });

  it('keeps the refresh marked as sent when Lark answers 200 without an access token', async () => {
    await using data = await temporaryDataDir();
    const config = larkConfig(data.dir);
    const source = builtinSource(config);
    try {
      await connect(source);
      await expireAccessToken(source);
      // Lark took (and rotated) the refresh token, but the answer we read lacks the access token.
      lark.dropNextAccessToken = true;
      await expect(fetchToken(source, config)).rejects.toMatchObject({ code: 'INVALID_SOURCE_RESPONSE' });
      expect((await source.store.read(OWNER, PROVIDER))!.refreshSentAt).not.toBeNull();
      const outcome = await fetchToken(source, config);
      expect(outcome).toMatchObject({ status: 'needs_auth', code: 'REFRESH_ANSWER_LOST' });
    } finally {
      await source.close();
    }
  });

  it('ends the grant 365 days after consent (20037) and after a revocation (20064)', async () => {
    await using data = await temporaryDataDir();
    const config = larkConfig(data.dir);
    const source = builtinSource(config);
    try {
      await connect(source);
      await expireAccessToken(source);
      lark.offsetMs = 365 * 24 * 3600_000;
      expect(await fetchToken(source, config)).toMatchObject({ status: 'needs_auth', code: 'GRANT_EXPIRED' });
      lark.offsetMs = 0;

      await connect(source);
      await expireAccessToken(source);
      lark.revokeAll();
      expect(await fetchToken(source, config)).toMatchObject({ status: 'needs_auth', code: 'GRANT_REVOKED' });
    } finally {
      await source.close();
    }
  });

  it('sends a refresh token once across two processes', async () => {
    await using data = await temporaryDataDir();
    const config = larkConfig(data.dir);
    const source = builtinSource(config);
    await connect(source);
    await expireAccessToken(source);
    lark.tokenAnswerDelayMs = 500;
    const settings = {
      dataDir: data.dir,
      publicUrl: PUBLIC_URL,
      owner: OWNER,
      provider: lark.providerEntry(PROVIDER),
    };
    const workers = [startWorker(settings), startWorker(settings)];
    try {
      await Promise.all(workers.map((worker) => worker.line(0)));
      const before = lark.tokenRequests.length;
      for (const worker of workers) worker.child.stdin.write('go\n');
      const results = (await Promise.all(workers.map((worker) => worker.line(1)))).map((line) =>
        JSON.parse(line),
      );
      expect(lark.tokenRequests.slice(before).map((request) => [request.grantType, request.code])).toEqual([
        ['refresh_token', 0],
      ]);
      expect(results.map((result) => result.status)).toEqual(['token', 'token']);
      expect(results[0].tokenHash).toBe(results[1].tokenHash);
    } finally {
      lark.tokenAnswerDelayMs = 0;
      for (const worker of workers) worker.child.kill();
      await source.close();
    }
  });

  it('says that a grant was lost when a process is killed between Lark rotating the refresh token and storing it', async () => {
    await using data = await temporaryDataDir();
    const config = larkConfig(data.dir);
    // Its clock can be moved past the lease the killed process's "refresh sent" mark holds.
    let skewMs = 0;
    const source = builtinSource(config, { now: () => Date.now() + skewMs });
    try {
      await connect(source);
      await expireAccessToken(source);
      lark.tokenAnswerDelayMs = 2000;
      const worker = startWorker({
        dataDir: data.dir,
        publicUrl: PUBLIC_URL,
        owner: OWNER,
        provider: lark.providerEntry(PROVIDER),
      });
      await worker.line(0);
      const processed = lark.tokenRequestsProcessed;
      worker.child.stdin.write('go\n');
      // Lark has taken the refresh token and issued the next one; its answer is still on the way.
      while (lark.tokenRequestsProcessed === processed)
        await new Promise((resolve) => setTimeout(resolve, 10));
      worker.child.kill('SIGKILL');
      await new Promise((resolve) => worker.child.once('exit', resolve));
      lark.tokenAnswerDelayMs = 0;

      // Until the lease of the killed process's refresh runs out, its refresh token is not sent again.
      const processedBefore = lark.tokenRequestsProcessed;
      expect(await fetchToken(source, config)).toMatchObject({
        status: 'unavailable',
        code: 'REFRESH_IN_PROGRESS',
      });
      expect(lark.tokenRequestsProcessed).toBe(processedBefore);
      skewMs = 31_000;
      const outcome = await fetchToken(source, config);
      expect(outcome).toMatchObject({ status: 'needs_auth', code: 'REFRESH_ANSWER_LOST' });
      expect(outcome.status === 'needs_auth' && outcome.reason).toMatch(
        /got no stored answer .* authorize again$/,
      );
      expect(await source.store.read(OWNER, PROVIDER)).toMatchObject({
        status: 'needs_auth',
        needsAuth: { code: 'REFRESH_ANSWER_LOST' },
      });
      // The owner authorizes again, and the grant works.
      await connect(source);
      expect(await fetchToken(source, config)).toMatchObject({ status: 'token' });
    } finally {
      lark.tokenAnswerDelayMs = 0;
      await source.close();
    }
  }, 60_000);
});

function startWorker(settings: object) {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    cwd: REPOSITORY,
    env: { ...process.env, NANOCLAW_TEST_WORKER: JSON.stringify(settings) },
  });
  let buffered = '';
  let stderr = '';
  const lines: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      lines.push(buffered.slice(0, newline));
      buffered = buffered.slice(newline + 1);
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let done = false;
  void exited.then(() => (done = true));
  return {
    child,
    async line(index: number): Promise<string> {
      while (lines.length <= index) {
        if (done) throw new Error(`worker exited before line ${index}: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return lines[index]!;
    },
  };
}
