import { readFile, stat } from 'node:fs/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRuntimeFromConfig } from '../../../src/app/runtime.js';
import { loadConfig } from '../../../src/config/load-config.js';
import { Daemon } from '../../../src/app/daemon.js';
import { demoProviderEntries } from '../../../src/demo/demo-providers.js';
import { silentLogger } from '../../../src/log/logger.js';
import { builtinCallbackUrl } from '../../../src/sources/builtin/builtin-urls.js';
import { recordDataDirSecrets } from '../../support/data-dir-secrets.js';
import { startTestOidcServer, type DemoOAuthServer } from '../../support/oidc-server.js';
import { PortTakenError, withChosenPort } from '../../support/port-retry.js';
import {
  approveInBrowser,
  createProject,
  expectNoSecrets,
  expectNothingListening,
  runConnectInProcess,
  spawnConnect,
  type Project,
  type RunningCli,
} from './connect-fixture.js';

interface DemoSetup {
  port: number;
  publicUrl: string;
  callbackUrl: string;
  oauth: DemoOAuthServer;
  project: Project;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * The demo OAuth server, registered for the callback on a port picked first, and a project using it.
 * The caller binds the port later: run it in `withChosenPort`.
 */
async function demoSetup(port: number): Promise<DemoSetup> {
  const publicUrl = `http://127.0.0.1:${port}`;
  const callbackUrl = builtinCallbackUrl(publicUrl, 'demo');
  const oauth = await startTestOidcServer({ redirectUris: [callbackUrl] });
  cleanups.push(() => oauth.close());
  const project = await createProject(
    { providers: demoProviderEntries(oauth) },
    { NANOCLAW_PORT: String(port) },
  );
  cleanups.push(async () => {
    await project[Symbol.asyncDispose]();
  });
  return { port, publicUrl, callbackUrl, oauth, project };
}

/**
 * `nanoclaw connect <args>` against a new demo setup, as a real process, up to its first line (the
 * link). The command binds the setup's port itself: when someone else took it, it starts over.
 */
async function connectWithTemporaryServer(
  args: readonly string[],
): Promise<DemoSetup & { run: RunningCli; authorize: Record<string, unknown> }> {
  return withChosenPort(async (port) => {
    const setup = await demoSetup(port);
    const run = spawnConnect(args, setup.project);
    const first = await Promise.race([run.stdout.nextLine(), run.exited.then(() => null)]);
    try {
      const authorize = JSON.parse(first ?? 'null') as Record<string, unknown> | null;
      if (authorize?.type === 'authorize') return { ...setup, run, authorize };
    } catch {
      // Not the link line: the command failed, and says why below.
    }
    const ended = await run.exited;
    const output = run.stdout.text + run.stderr.text;
    if (output.includes('EADDRINUSE')) throw new PortTakenError(port, output);
    throw new Error(`connect ended (${JSON.stringify(ended)}) before printing its link:\n${output}`);
  });
}

async function tokenFileOf(project: Project, owner: string) {
  const file = project.tokenPath(owner, 'demo');
  const mode = (await stat(file)).mode & 0o777;
  return { mode, token: JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown> };
}

describe('nanoclaw connect for a built-in provider', () => {
  it('with no daemon running, answers the sign-in itself until the token is on disk, then exits 0', async () => {
    const { port, publicUrl, callbackUrl, oauth, project, run, authorize } = await connectWithTemporaryServer(
      ['connect', 'demo', '--owner', 'alice', '--json'],
    );
    expect(authorize).toMatchObject({
      type: 'authorize',
      provider: 'demo',
      owner: 'alice',
      source: 'builtin',
      via: 'temporary-server',
    });
    const link = new URL(String(authorize.url));
    expect(link.origin).toBe(publicUrl);
    expect(link.searchParams.get('next')).toBe('/auth/oauth/demo/start?owner=alice');

    const page = await approveInBrowser(link.href, callbackUrl);
    expect(page.status).toBe(200);
    expect(page.html).toContain('demo is connected');

    expect(await run.exited).toEqual({ code: 0, signal: null });
    const lines = run.stdout.text.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    const result = JSON.parse(lines[1]!) as Record<string, unknown>;
    expect(result).toMatchObject({
      type: 'result',
      outcome: 'connected',
      link: link.href,
      tokenFile: project.tokenPath('alice', 'demo'),
      result: { owner: 'alice', provider: 'demo', usable: true },
    });

    const { mode, token } = await tokenFileOf(project, 'alice');
    expect(mode).toBe(0o640);
    expect(token.provider).toBe('demo');
    expectNoSecrets(run.stdout.text + run.stderr.text, [
      String(token.access_token),
      oauth.webClient.clientSecret,
      oauth.serviceClient.clientSecret,
    ]);
    // What the command stored is known to the secret scan, which reads every line it printed.
    expect(await recordDataDirSecrets(project.dataDir)).toMatchObject({
      tokenFiles: 1,
      grants: 1,
      key: true,
    });
    // The temporary server is gone with the command.
    await expectNothingListening(port);
  });

  it('with a daemon running, asks it for the login link once and waits for its token file', async () => {
    // `nanoclaw serve` for the same project, in this process so its login links can be counted.
    const { publicUrl, callbackUrl, oauth, project, runtime, daemon } = await withChosenPort(async (port) => {
      const setup = await demoSetup(port);
      const { config } = await loadConfig({ env: setup.project.env, cwd: setup.project.dir });
      const runtime = createRuntimeFromConfig(config, [], { logger: silentLogger() });
      try {
        const daemon = await Daemon.start({ runtime, watch: false });
        cleanups.push(async () => {
          await daemon.close();
          await runtime.close();
        });
        return { ...setup, runtime, daemon };
      } catch (error) {
        await runtime.close();
        throw error;
      }
    });
    expect(daemon.url).toBe(publicUrl);
    const loginCodes = vi.spyOn(daemon.web.context.sessions, 'createLoginCode');
    // Bob connected before: that token file, still valid, is not the answer to the new link.
    const earlier = new Date(Date.now() - 60_000);
    await runtime.folder.write(
      'bob',
      {
        provider: 'demo',
        access_token: 'an-earlier-access-token-of-bob',
        token_type: 'Bearer',
        expires_at: new Date(Date.now() + 3600_000).toISOString(),
        scopes: ['openid'],
        synced_at: earlier.toISOString(),
      },
      earlier,
    );

    const interrupt = new AbortController();
    cleanups.push(async () => interrupt.abort());
    const run = runConnectInProcess(
      ['connect', 'demo', '--owner', 'bob', '--json'],
      project,
      interrupt.signal,
    );
    const authorize = JSON.parse(await run.stdout.nextLine()) as Record<string, unknown>;
    expect(authorize).toMatchObject({ type: 'authorize', owner: 'bob', via: 'daemon', expiresAt: null });
    expect(new URL(String(authorize.url)).origin).toBe(publicUrl);
    expect(loginCodes).toHaveBeenCalledTimes(1);

    const page = await approveInBrowser(String(authorize.url), callbackUrl);
    expect(page.status).toBe(200);

    expect((await run.exited).code).toBe(0);
    const result = JSON.parse(run.stdout.text.trimEnd().split('\n')[1]!) as Record<string, unknown>;
    expect(result).toMatchObject({
      outcome: 'connected',
      result: { owner: 'bob', provider: 'demo', usable: true },
    });
    expect(Date.parse(String((result.result as { syncedAt: string }).syncedAt))).toBeGreaterThan(
      earlier.getTime(),
    );
    expect(loginCodes).toHaveBeenCalledTimes(1);
    const { mode, token } = await tokenFileOf(project, 'bob');
    expect(mode).toBe(0o640);
    expect(token.access_token).not.toBe('an-earlier-access-token-of-bob');
    expectNoSecrets(run.stdout.text + run.stderr.text, [
      String(token.access_token),
      daemon.apiToken.token,
      oauth.webClient.clientSecret,
    ]);
  });

  it('stops waiting at once when the owner denies, exits 3 and says why', async () => {
    const { port, callbackUrl, project, run, authorize } = await connectWithTemporaryServer([
      'connect',
      'demo',
      '--owner',
      'dave',
      '--json',
      '--timeout',
      '600',
    ]);

    const page = await approveInBrowser(String(authorize.url), callbackUrl, 'deny');
    expect(page.status).toBe(403);
    expect(await run.exited).toEqual({ code: 3, signal: null });
    const result = JSON.parse(run.stdout.text.trimEnd().split('\n')[1]!) as Record<string, unknown>;
    expect(result).toMatchObject({
      outcome: 'refused',
      result: null,
      refusal: { code: 'OAUTH_ACCESS_DENIED' },
    });
    await expectNothingListening(port);
    await expect(stat(project.tokenPath('dave', 'demo'))).rejects.toThrow();
  });

  it('exits 130 on Ctrl-C while waiting and leaves nothing listening', async () => {
    const { port, project, run, authorize } = await connectWithTemporaryServer([
      'connect',
      'demo',
      '--owner',
      'carol',
      '--json',
    ]);
    expect(authorize.via).toBe('temporary-server');

    run.interrupt();
    expect(await run.exited).toEqual({ code: 130, signal: null });
    const result = JSON.parse(run.stdout.text.trimEnd().split('\n')[1]!) as Record<string, unknown>;
    expect(result).toMatchObject({ outcome: 'interrupted', result: null, link: authorize.url });
    await expectNothingListening(port);
    await expect(stat(project.tokenPath('carol', 'demo'))).rejects.toThrow();
  });
});
