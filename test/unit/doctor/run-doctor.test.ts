import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { doctorCommand } from '../../../src/cli/commands/doctor.js';
import { resolveConfig, type Environment } from '../../../src/config/resolve-config.js';
import type { NanoclawConfig } from '../../../src/config/types.js';
import type { DockerEngine } from '../../../src/doctor/checks/docker-engine-check.js';
import { runDoctor, type DoctorDependencies } from '../../../src/doctor/run-doctor.js';
import { ConfigError } from '../../../src/errors.js';

const signal = new AbortController().signal;
let root: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'nanoclaw-doctor-run-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function configFrom(file: unknown, env: Environment = {}): NanoclawConfig {
  const result = resolveConfig(file, { env, cwd: root, configPath: null });
  if ('errors' in result) throw new Error(result.errors.join('\n'));
  return result.config;
}

const healthyEngine: DockerEngine = {
  ping: async () => {},
  version: async () => ({ version: '20.10.24', apiVersion: '1.41' }),
  imageExists: async () => true,
};

function dependencies(
  overrides: Partial<DoctorDependencies> = {},
): DoctorDependencies & { nangoCalls: string[] } {
  const nangoCalls: string[] = [];
  return {
    nangoCalls,
    loadConfig: async () => ({ config: configFrom({}), warnings: [] }),
    docker: healthyEngine,
    nango: () => async (endUserId) => {
      nangoCalls.push(endUserId);
      return { connections: [] };
    },
    discoverIssuer: async (issuer) => ({ tokenEndpoint: `${issuer}/token` }),
    loadSkills: async () => ({
      folderExists: true,
      skills: [{ name: 'hello', image: null, providers: [] }],
      problems: [],
    }),
    identity: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
    tokenGroup: () => null,
    timeoutMs: 200,
    ...overrides,
  };
}

const names = (checks: { name: string; status: string }[]) =>
  checks.map((check) => `${check.status} ${check.name}`);

describe('runDoctor', () => {
  it('runs every check in a fixed order', async () => {
    const { checks } = await runDoctor(dependencies(), signal);
    expect(names(checks)).toEqual([
      'ok config',
      'ok docker-engine',
      'ok base-image',
      'ok skill-image',
      'ok skill-manifests',
      'warn data-folder',
      'ok token-permissions',
      'ok secret-files',
      'warn token-source',
      'ok webhook-signing-key',
    ]);
  });

  it('still checks the Docker engine when the configuration is invalid, and says what it skipped', async () => {
    const deps = dependencies({
      loadConfig: async () => {
        throw new ConfigError(['server.port: expected a port number']);
      },
    });
    const { checks } = await runDoctor(deps, signal);
    expect(checks[0]).toMatchObject({
      name: 'config',
      status: 'fail',
      message: '1 problem: server.port: expected a port number',
    });
    expect(checks[1]).toMatchObject({ name: 'docker-engine', status: 'ok' });
    expect(
      checks.slice(2).every((check) => check.status === 'warn' && check.message.startsWith('not checked')),
    ).toBe(true);
  });

  it('does not ask for images when the engine is down', async () => {
    let asked = 0;
    const down: DockerEngine = {
      ping: async () => {
        throw new Error('connect ECONNREFUSED /var/run/docker.sock');
      },
      version: async () => null,
      imageExists: async () => {
        asked += 1;
        return true;
      },
    };
    const { checks } = await runDoctor(dependencies({ docker: down }), signal);
    expect(checks.find((check) => check.name === 'docker-engine')?.status).toBe('fail');
    expect(checks.find((check) => check.name === 'skill-image')?.message).toBe(
      'not checked: the Docker engine does not answer',
    );
    expect(asked).toBe(0);
  });

  it('gives up on an engine that never answers', async () => {
    const hung: DockerEngine = { ...healthyEngine, ping: () => new Promise(() => {}) };
    const { checks } = await runDoctor(dependencies({ docker: hung, timeoutMs: 30 }), signal);
    expect(checks.find((check) => check.name === 'docker-engine')).toMatchObject({
      status: 'fail',
      message: 'the Docker engine does not answer: no answer within 30ms',
    });
  });

  it('turns a check that throws into a finding and carries on', async () => {
    const deps = dependencies({
      tokenGroup: () => {
        throw new Error('no such group');
      },
    });
    const { checks } = await runDoctor(deps, signal);
    expect(checks.find((check) => check.name === 'token-permissions')).toMatchObject({
      status: 'fail',
      message: 'the check could not run: no such group (INTERNAL)',
    });
    expect(checks.at(-1)?.name).toBe('webhook-signing-key');
  });

  it('checks Nango for the default owner and each built-in provider', async () => {
    const config = configFrom(
      {
        owner: 'alice',
        providers: [
          { name: 'cal', source: 'nango' },
          { name: 'acme', source: 'builtin', clientId: 'c', issuer: 'https://id.acme.test' },
        ],
      },
      { NANGO_SECRET_KEY: 'sk-test', NANGO_WEBHOOK_SIGNING_KEY: 'whsec' },
    );
    const deps = dependencies({ loadConfig: async () => ({ config, warnings: [] }) });
    const { checks } = await runDoctor(deps, signal);
    expect(names(checks)).toContain('ok nango-source');
    expect(names(checks)).toContain('ok builtin-source:acme');
    expect(names(checks)).not.toContain('warn token-source');
    expect(deps.nangoCalls).toEqual(['alice']);
  });
});

describe('doctorCommand', () => {
  it('exits 0 with warnings and prints {checks:[{name,status,message,fix}]}', async () => {
    const result = await doctorCommand({ signal, dependencies: dependencies() });
    expect(result.exitCode).toBe(0);
    const { checks } = result.json as { checks: Record<string, unknown>[] };
    for (const check of checks)
      expect(Object.keys(check).sort()).toEqual(['fix', 'message', 'name', 'status']);
    expect(result.text).toMatch(/^0 failed, 2 warnings, 8 ok$/m);
  });

  it('exits 1 when any check failed', async () => {
    const down: DockerEngine = {
      ...healthyEngine,
      ping: async () => Promise.reject(new Error('docker is down')),
    };
    const result = await doctorCommand({ signal, dependencies: dependencies({ docker: down }) });
    expect(result.exitCode).toBe(1);
  });
});
