import { readFile, stat } from 'node:fs/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { choosePort } from '../../../src/cli/free-port.js';
import { createRuntimeFromConfig } from '../../../src/cli/runtime.js';
import { loadConfig } from '../../../src/config/load-config.js';
import { Daemon } from '../../../src/daemon/daemon.js';
import { demoProviderEntries } from '../../../src/demo/demo-providers.js';
import { silentLogger } from '../../../src/log/logger.js';
import { builtinCallbackUrl } from '../../../src/sources/builtin/builtin-urls.js';
import { startTestOidcServer, type DemoOAuthServer } from '../../support/oidc-server.js';
import {
  approveInBrowser,
  createProject,
  expectNoSecrets,
  expectNothingListening,
  runConnectInProcess,
  spawnConnect,
  type Project,
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

/** The demo OAuth server, registered for the callback on a port picked first, and a project using it. */
async function demoSetup(): Promise<DemoSetup> {
  const port = await choosePort(0);
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

async function tokenFileOf(project: Project, owner: string) {
  const file = project.tokenPath(owner, 'demo');
  const mode = (await stat(file)).mode & 0o777;
  return { mode, token: JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown> };
}

describe('nanoclaw connect for a built-in provider', () => {
  it('with no daemon running, answers the sign-in itself until the token is on disk, then exits 0', async () => {
    const { port, publicUrl, callbackUrl, oauth, project } = await demoSetup();
    const run = spawnConnect(['connect', 'demo', '--owner', 'alice', '--json'], project);

    const authorize = JSON.parse(await run.stdout.nextLine()) as Record<string, unknown>;
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
    // The temporary server is gone with the command.
    await expectNothingListening(port);
  });

  it('with a daemon running, asks it for the login link once and waits for its token file', async () => {
    const { publicUrl, callbackUrl, oauth, project } = await demoSetup();
    // `nanoclaw serve` for the same project, in this process so its login links can be counted.
    const { config } = await loadConfig({ env: project.env, cwd: project.dir });
    const runtime = createRuntimeFromConfig(config, [], { logger: silentLogger() });
    const daemon = await Daemon.start({ runtime, watch: false });
    cleanups.push(async () => {
      await daemon.close();
      await runtime.close();
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
    const { port, callbackUrl, project } = await demoSetup();
    const run = spawnConnect(['connect', 'demo', '--owner', 'dave', '--json', '--timeout', '600'], project);
    const authorize = JSON.parse(await run.stdout.nextLine()) as Record<string, unknown>;

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
    const { port, project } = await demoSetup();
    const run = spawnConnect(['connect', 'demo', '--owner', 'carol', '--json'], project);
    const authorize = JSON.parse(await run.stdout.nextLine()) as Record<string, unknown>;
    expect(authorize.via).toBe('temporary-server');

    run.interrupt();
    expect(await run.exited).toEqual({ code: 130, signal: null });
    const result = JSON.parse(run.stdout.text.trimEnd().split('\n')[1]!) as Record<string, unknown>;
    expect(result).toMatchObject({ outcome: 'interrupted', result: null, link: authorize.url });
    await expectNothingListening(port);
    await expect(stat(project.tokenPath('carol', 'demo'))).rejects.toThrow();
  });
});
