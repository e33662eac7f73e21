import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawnCli, type CliRun } from '../../support/cli.js';
import { dockerForTests, TEST_BASE_IMAGE, TEST_SKILL_IMAGE } from '../../support/docker.js';
import { FakeNangoServer } from '../../support/fake-nango-server.js';

const run = promisify(execFile);
/** In CI an engine is required (this throws without one); locally doctor must then say it is down. */
const docker = await dockerForTests();

interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  message: string;
  fix: string | null;
}

const WRONG_NANGO_KEY = 'sk-wrong-5c7a0e-never-print-me';
const ACCESS_TOKEN = 'ya29.doctor-access-token-never-print-me';
const API_TOKEN = 'api-token-3f1d-never-print-me';
const CLIENT_SECRET = 'client-secret-9b2e-never-print-me';

/** An issuer on loopback that serves its discovery document, as a real one does. */
async function startIssuer(): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    const { port } = server.address() as AddressInfo;
    const issuer = `http://127.0.0.1:${port}`;
    if (request.url === '/.well-known/openid-configuration') {
      response.setHeader('content-type', 'application/json');
      response.end(
        JSON.stringify({
          issuer,
          token_endpoint: `${issuer}/token`,
          authorization_endpoint: `${issuer}/auth`,
        }),
      );
    } else {
      response.statusCode = 404;
      response.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server };
}

describe('nanoclaw doctor', () => {
  let work: string;
  let nango: FakeNangoServer;
  let issuer: { url: string; server: Server };
  let env: Record<string, string>;
  let tokensDir: string;
  let tokenFile: string;
  let apiTokenFile: string;

  const secrets = () => [WRONG_NANGO_KEY, ACCESS_TOKEN, API_TOKEN, CLIENT_SECRET, ...nango.secrets];

  function expectNoSecret(output: CliRun): void {
    for (const secret of secrets()) {
      expect(output.stdout).not.toContain(secret);
      expect(output.stderr).not.toContain(secret);
    }
  }

  async function doctor(...args: string[]): Promise<CliRun> {
    const output = await spawnCli(['doctor', ...args], { cwd: work, env, timeoutMs: 60_000 });
    expectNoSecret(output);
    return output;
  }

  async function doctorJson(): Promise<{ exitCode: number; checks: Map<string, Check> }> {
    const output = await doctor('--json');
    const { checks } = JSON.parse(output.stdout) as { checks: Check[] };
    return { exitCode: output.exitCode, checks: new Map(checks.map((check) => [check.name, check])) };
  }

  beforeAll(async () => {
    issuer = await startIssuer();
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => (issuer ? issuer.server.close(() => resolve()) : resolve()));
  });

  // Each test gets its own folder and Nango: one test applying the fixes must not fix the next one's.
  beforeEach(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'nanoclaw-doctor-it-'));
    nango = await FakeNangoServer.start();

    await writeFile(
      path.join(work, 'nanoclaw.config.yaml'),
      [
        'providers:',
        '  - name: google-calendar',
        '    source: nango',
        '  - name: acme',
        '    source: builtin',
        '    clientId: doctor-client',
        '    clientSecret: ${ACME_CLIENT_SECRET}',
        `    issuer: ${issuer.url}`,
        '',
      ].join('\n'),
    );

    // A valid skill and a broken one.
    await mkdir(path.join(work, 'skills', 'google-calendar'), { recursive: true });
    await writeFile(
      path.join(work, 'skills', 'google-calendar', 'skill.yaml'),
      "name: google-calendar\ncommand: ['python3', 'main.py']\nproviders:\n  - name: google-calendar\n",
    );
    await mkdir(path.join(work, 'skills', 'broken'));
    await writeFile(
      path.join(work, 'skills', 'broken', 'skill.yaml'),
      'name: broken\ncommand: []\ntimeout: -1\n',
    );

    // The data folder with modes that are too open.
    const dataDir = path.join(work, 'data');
    tokensDir = path.join(dataDir, 'tokens');
    await mkdir(path.join(tokensDir, 'main'), { recursive: true });
    tokenFile = path.join(tokensDir, 'main', 'google-calendar.json');
    await writeFile(
      tokenFile,
      JSON.stringify({
        provider: 'google-calendar',
        access_token: ACCESS_TOKEN,
        token_type: 'Bearer',
        expires_at: null,
        scopes: [],
        synced_at: new Date().toISOString(),
      }),
    );
    apiTokenFile = path.join(dataDir, 'api-token');
    await writeFile(apiTokenFile, API_TOKEN);
    await chmod(dataDir, 0o750);
    await chmod(tokensDir, 0o755);
    await chmod(path.join(tokensDir, 'main'), 0o750);
    await chmod(tokenFile, 0o644);
    await chmod(apiTokenFile, 0o644);

    env = {
      HOME: work,
      NANGO_HOST: nango.url,
      NANGO_SECRET_KEY: WRONG_NANGO_KEY,
      ACME_CLIENT_SECRET: CLIENT_SECRET,
      NANOCLAW_API_TOKEN: API_TOKEN,
      // The image the Docker tests build the skill image from (no registry to pull from here).
      NANOCLAW_BASE_IMAGE: TEST_BASE_IMAGE,
      ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
    };
  });

  afterEach(async () => {
    await nango?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** What doctor must say of the engine and the images, with Docker here or not. */
  function expectDockerChecks(checks: Map<string, Check>): void {
    if (docker.available) {
      expect(checks.get('docker-engine')).toMatchObject({
        status: 'ok',
        message: expect.stringMatching(/^Docker \d+\.\d+\S* \(API \d+\.\d+\) answers$/),
        fix: null,
      });
      expect(checks.get('base-image')).toEqual({
        name: 'base-image',
        status: 'ok',
        message: `${TEST_BASE_IMAGE} is present`,
        fix: null,
      });
      expect(checks.get('skill-image')).toMatchObject({
        status: 'ok',
        message: `${TEST_SKILL_IMAGE} is present`,
      });
    } else {
      expect(checks.get('docker-engine')).toMatchObject({ status: 'fail', fix: expect.any(String) });
      expect(checks.get('base-image')).toMatchObject({ status: 'warn', fix: 'fix docker-engine first' });
    }
  }

  it('finds wrong modes, a broken manifest and a rejected Nango key, says how to fix each, and exits 1', async () => {
    const { exitCode, checks } = await doctorJson();
    expect(exitCode).toBe(1);

    expect(checks.get('config')).toMatchObject({ status: 'ok' });
    expectDockerChecks(checks);

    expect(checks.get('token-permissions')).toEqual({
      name: 'token-permissions',
      status: 'fail',
      message: `2 paths are too open (want folders 0750, files 0640): ${tokensDir} (0755), ${tokenFile} (0644)`,
      fix: `chmod 750 ${tokensDir} && chmod 640 ${tokenFile}`,
    });
    expect(checks.get('secret-files')).toEqual({
      name: 'secret-files',
      status: 'fail',
      message: `readable by others: API token ${apiTokenFile} (0644)`,
      fix: `chmod 600 ${apiTokenFile}`,
    });

    const manifests = checks.get('skill-manifests')!;
    expect(manifests.status).toBe('fail');
    const brokenManifest = path.join(work, 'skills', 'broken', 'skill.yaml');
    expect(manifests.message).toContain(`${brokenManifest}: command: expected at least the program to run`);
    expect(manifests.message).toContain(`${brokenManifest}: timeout: must be more than 0`);
    expect(manifests.message).not.toContain('google-calendar/skill.yaml');

    expect(checks.get('nango-source')).toMatchObject({
      status: 'fail',
      message: `Nango at ${nango.url} rejected NANGO_SECRET_KEY (HTTP 401 unknown_account)`,
    });
    expect(checks.get('nango-source')?.fix).toContain('NANGO_SECRET_KEY');
    expect(nango.requests.some((request) => request.route === 'listConnections')).toBe(true);

    expect(checks.get('builtin-source:acme')).toMatchObject({
      status: 'ok',
      message: `discovery at ${issuer.url} answers (token endpoint ${issuer.url}/token)`,
    });
    expect(checks.get('builtin-key')).toMatchObject({ status: 'ok' });
    expect(checks.get('webhook-signing-key')).toMatchObject({ status: 'warn' });
  });

  it('prints a checklist for people with the same findings', async () => {
    const output = await doctor();
    expect(output.exitCode).toBe(1);
    expect(output.stdout).toMatch(/^FAIL {2}token-permissions +2 paths are too open/m);
    expect(output.stdout).toMatch(
      new RegExp(`^ +fix: chmod 600 ${apiTokenFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'),
    );
    expect(output.stdout).toMatch(/^FAIL {2}nango-source +Nango at .* rejected NANGO_SECRET_KEY/m);
    expect(output.stdout).toMatch(/^warn {2}webhook-signing-key +NANGO_WEBHOOK_SIGNING_KEY is not set/m);
    expect(output.stdout).toMatch(/^\d+ failed, \d+ warnings?, \d+ ok$/m);
  });

  it('passes those checks once its own fixes are applied and the key is right', async () => {
    // As a user would: run each fix line, look again, until the folder checks are clean.
    for (let round = 0; round < 3; round += 1) {
      const { checks: found } = await doctorJson();
      const fixes = ['token-permissions', 'secret-files']
        .map((name) => found.get(name)!)
        .filter((check) => check.status !== 'ok');
      if (fixes.length === 0) break;
      for (const check of fixes) await run('sh', ['-c', check.fix!]);
    }
    await rm(path.join(work, 'skills', 'broken'), { recursive: true });
    env = {
      ...env,
      NANGO_SECRET_KEY: nango.secretKey,
      NANGO_WEBHOOK_SIGNING_KEY: 'whsec-doctor-never-print-me',
    };

    const { checks } = await doctorJson();
    for (const name of [
      'token-permissions',
      'secret-files',
      'skill-manifests',
      'nango-source',
      'webhook-signing-key',
    ]) {
      expect(checks.get(name), name).toMatchObject({ status: 'ok', fix: null });
    }
  });

  it('reports an invalid configuration with every problem and still checks Docker', async () => {
    const broken = path.join(work, 'broken.yaml');
    await writeFile(broken, 'server:\n  port: many\nproviders:\n  - name: Bad Name\n');
    const output = await doctor('--config', broken, '--json');
    expect(output.exitCode).toBe(1);
    const { checks } = JSON.parse(output.stdout) as { checks: Check[] };
    expect(checks[0]).toMatchObject({ name: 'config', status: 'fail' });
    expect(checks[0]?.message).toContain('server.port: expected a port number');
    expect(checks[0]?.message).toContain('providers[0].name: expected a provider name');
    expect(checks[1]?.name).toBe('docker-engine');
    expect(checks[1]?.status).toBe(docker.available ? 'ok' : 'fail');
    expect(checks.find((check) => check.name === 'data-folder')?.message).toBe(
      'not checked: the configuration is invalid',
    );
  });
});
