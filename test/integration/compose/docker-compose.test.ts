import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');
const ENV_EXAMPLE = path.join(ROOT, '.env.example');

/** Debian's docker-compose (v1): the one CI installs; no image is pulled by `config`. */
function findDockerCompose(): string | null {
  const candidates = [
    '/usr/bin/docker-compose',
    ...(process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'docker-compose')),
  ];
  return candidates.find((candidate) => candidate !== '' && existsSync(candidate)) ?? null;
}

const DOCKER_COMPOSE = findDockerCompose();
if (DOCKER_COMPOSE === null && !process.env.CI) {
  process.stderr.write(
    '\n*** docker-compose is not installed: SKIPPING the docker-compose.yml checks ' +
      '(apt-get install docker-compose). CI fails instead of skipping. ***\n\n',
  );
}

interface ComposeRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

interface EnvLine {
  name: string;
  value: string;
  commented: boolean;
}

/** `NAME=value` and documented-but-off `# NAME=value` lines of an env file. */
function parseEnvExample(text: string): EnvLine[] {
  return text.split('\n').flatMap((line): EnvLine[] => {
    const match = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (!match) return [];
    return [{ name: match[2]!, value: match[3]!, commented: match[1] !== undefined }];
  });
}

function renderEnv(values: Record<string, string>): string {
  return Object.entries(values)
    .map(([name, value]) => `${name}=${value}\n`)
    .join('');
}

/** Variables the compose file requires with `${NAME:?message}`. */
function requiredVariables(composeText: string): string[] {
  return [...new Set([...composeText.matchAll(/\$\{([A-Z][A-Z0-9_]*):\?/g)].map((match) => match[1]!))];
}

/** Every variable the compose file interpolates or passes through from the environment. */
function referencedVariables(composeText: string, services: Record<string, ComposeService>): string[] {
  const interpolated = [...composeText.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((match) => match[1]!);
  const passedThrough = Object.values(services).flatMap((service) =>
    Object.entries(service.environment ?? {})
      .filter(([, value]) => value === null)
      .map(([name]) => name),
  );
  return [...new Set([...interpolated, ...passedThrough])].sort();
}

interface ComposeService {
  image?: string;
  build?: unknown;
  ports?: string[];
  volumes?: string[];
  environment?: Record<string, string | null>;
  healthcheck?: { test?: string[] };
  depends_on?: Record<string, { condition?: string }>;
  group_add?: string[];
  profiles?: string[];
  cap_drop?: string[];
  security_opt?: string[];
  read_only?: boolean;
  privileged?: boolean;
  networks?: Record<string, unknown>;
}

interface ComposeConfig {
  services: Record<string, ComposeService>;
  networks?: Record<string, { internal?: boolean }>;
  volumes?: Record<string, unknown>;
}

describe.skipIf(DOCKER_COMPOSE === null && !process.env.CI)('docker-compose.yml', () => {
  let workDir: string;
  let composeText: string;
  let example: EnvLine[];
  /** .env.example as a user fills it in: every required blank gets a fresh `openssl rand -base64 32`. */
  let filledIn: Record<string, string>;

  async function compose(env: Record<string, string>, ...args: string[]): Promise<ComposeRun> {
    const envFile = path.join(workDir, `env-${randomBytes(4).toString('hex')}`);
    await writeFile(envFile, renderEnv(env), { mode: 0o600 });
    return new Promise((resolve) => {
      execFile(
        DOCKER_COMPOSE!,
        ['--file', COMPOSE_FILE, '--env-file', envFile, 'config', ...args],
        // Nothing from this shell may fill a variable in: only the env file speaks.
        { cwd: workDir, env: { PATH: process.env.PATH, HOME: workDir }, timeout: 60_000 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
          resolve({ exitCode: code, stdout, stderr });
        },
      );
    });
  }

  async function resolvedConfig(env: Record<string, string>): Promise<ComposeConfig> {
    const run = await compose(env);
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.exitCode).toBe(0);
    return parseYaml(run.stdout) as ComposeConfig;
  }

  beforeAll(async () => {
    if (DOCKER_COMPOSE === null) {
      throw new Error(
        'docker-compose is missing: CI must install the Debian docker-compose package (apt-get install docker-compose)',
      );
    }
    workDir = await mkdtemp(path.join(tmpdir(), 'nanoclaw-compose-'));
    composeText = await readFile(COMPOSE_FILE, 'utf8');
    example = parseEnvExample(await readFile(ENV_EXAMPLE, 'utf8'));
    const required = new Set(requiredVariables(composeText));
    filledIn = Object.fromEntries(
      example
        .filter((line) => !line.commented)
        .map((line) => [
          line.name,
          line.value === '' && required.has(line.name) ? randomBytes(32).toString('base64') : line.value,
        ]),
    );
  });

  afterAll(async () => {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('validates with the .env.example values once its required secrets are filled in', async () => {
    const run = await compose(filledIn, '-q');
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
  });

  it('ships no secret in .env.example: each required secret is blank and compose says how to set it', async () => {
    const blanks = example.filter((line) => !line.commented && line.value === '').map((line) => line.name);
    expect(blanks).toEqual(expect.arrayContaining(['NANGO_ENCRYPTION_KEY', 'NANGO_DB_PASSWORD']));
    const asShipped = Object.fromEntries(
      example.filter((line) => !line.commented).map((line) => [line.name, line.value]),
    );
    const run = await compose(asShipped, '-q');
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).toMatch(/set NANGO_(ENCRYPTION_KEY|DB_PASSWORD) \(openssl rand -base64 32\)/);
  });

  it('fails loudly, naming the variable, when any required variable is missing', async () => {
    const required = requiredVariables(composeText);
    expect(required).toEqual(
      expect.arrayContaining([
        'DOCKER_GID',
        'NANOCLAW_HOST_DATA_DIR',
        'NANGO_ENCRYPTION_KEY',
        'NANGO_DB_PASSWORD',
        'NANGO_DASHBOARD_USERNAME',
        'NANGO_DASHBOARD_PASSWORD',
      ]),
    );
    for (const name of required) {
      const { [name]: _removed, ...rest } = filledIn;
      const run = await compose(rest, '-q');
      expect(run.exitCode, `without ${name}`).not.toBe(0);
      expect(run.stderr, `without ${name}`).toContain(`set ${name}`);
    }
  });

  it('documents every variable it reads in .env.example', async () => {
    const config = await resolvedConfig(filledIn);
    const documented = new Set(example.map((line) => line.name));
    const undocumented = referencedVariables(composeText, config.services).filter(
      (name) => !documented.has(name),
    );
    expect(undocumented).toEqual([]);
  });

  it('publishes every port on loopback only, and the database and Redis not at all', async () => {
    const { services } = await resolvedConfig(filledIn);
    const published = Object.entries(services).flatMap(([name, service]) =>
      (service.ports ?? []).map((port) => ({ name, port })),
    );
    expect(published.map(({ name, port }) => `${name} ${port}`).sort()).toEqual([
      'nango-server 127.0.0.1:3003:3003/tcp',
      'nango-server 127.0.0.1:3009:3009/tcp',
      'nanoclaw 127.0.0.1:3000:3000/tcp',
    ]);
    expect(services['nango-db']?.ports).toBeUndefined();
    expect(services['nango-redis']?.ports).toBeUndefined();
  });

  it('gives the daemon the Docker socket, its group, and the data and skills folders at the same paths inside and out', async () => {
    const config = await resolvedConfig({
      ...filledIn,
      DOCKER_GID: '4242',
      NANOCLAW_HOST_DATA_DIR: '/srv/x/data',
      NANOCLAW_HOST_SKILLS_DIR: '/srv/x/skills',
    });
    const daemon = config.services.nanoclaw!;
    expect(daemon.build).toBeDefined();
    expect(daemon.volumes).toContain('/var/run/docker.sock:/var/run/docker.sock:rw');
    expect(daemon.group_add).toEqual(['4242']);
    expect(daemon.volumes).toContain('/srv/x/data:/srv/x/data:rw');
    expect(daemon.environment?.NANOCLAW_DATA_DIR).toBe('/srv/x/data');
    expect(daemon.volumes).toContain('/srv/x/skills:/srv/x/skills:ro');
    expect(daemon.environment?.NANOCLAW_SKILLS_DIR).toBe('/srv/x/skills');
    expect(daemon.volumes).toContain(
      `${path.join(ROOT, 'nanoclaw.config.yaml')}:/app/nanoclaw.config.yaml:ro`,
    );
    expect(daemon.environment?.NANGO_HOST).toBe('http://nango-server:3003');
    expect(Object.keys(config.services['nango-server']?.depends_on ?? {})).toEqual(['nango-db']);
    expect(Object.keys(daemon.depends_on ?? {})).toContain('nango-server');
  });

  it('keeps the daemon locked down and out of reach of Nango-only secrets', async () => {
    const daemon = (await resolvedConfig(filledIn)).services.nanoclaw!;
    expect(daemon.privileged).toBeUndefined();
    expect(daemon.cap_drop).toEqual(['ALL']);
    expect(daemon.security_opt).toContain('no-new-privileges:true');
    expect(daemon.read_only).toBe(true);
    const names = Object.keys(daemon.environment ?? {});
    expect(names).not.toContain('NANGO_ENCRYPTION_KEY');
    expect(names).not.toContain('NANGO_DB_PASSWORD');
    const values = JSON.stringify(daemon);
    expect(values).not.toContain(filledIn.NANGO_ENCRYPTION_KEY);
    expect(values).not.toContain(filledIn.NANGO_DB_PASSWORD);
  });

  it('runs a self-hosted Nango with its Connect UI, on a healthy PostgreSQL 16', async () => {
    const { services, networks } = await resolvedConfig(filledIn);
    const nango = services['nango-server']!;
    expect(nango.image).toBe('nangohq/nango-server:hosted');
    expect(nango.environment).toMatchObject({
      NANGO_ENCRYPTION_KEY: filledIn.NANGO_ENCRYPTION_KEY,
      NANGO_DB_HOST: 'nango-db',
      NANGO_DB_PORT: '5432',
      NANGO_DB_PASSWORD: filledIn.NANGO_DB_PASSWORD,
      SERVER_PORT: '3003',
      FLAG_SERVE_CONNECT_UI: 'true',
      NANGO_SERVER_URL: 'http://localhost:3003',
      NANGO_PUBLIC_CONNECT_URL: 'http://localhost:3009',
    });
    expect(nango.depends_on?.['nango-db']?.condition).toBe('service_healthy');
    expect(services['nango-db']?.image).toBe('postgres:16');
    expect(services['nango-db']?.environment?.POSTGRES_PASSWORD).toBe(filledIn.NANGO_DB_PASSWORD);
    expect(services['nango-redis']?.profiles).toEqual(['redis']);
    expect(Object.keys(services['nango-db']?.networks ?? {})).toEqual(['nango-internal']);
    expect(networks?.['nango-internal']?.internal).toBe(true);
  });

  it('health-checks every service (the daemon through its Dockerfile)', async () => {
    const { services } = await resolvedConfig(filledIn);
    for (const name of ['nango-server', 'nango-db', 'nango-redis']) {
      expect(services[name]?.healthcheck?.test?.length, name).toBeGreaterThan(0);
    }
    expect(services['nango-db']?.healthcheck?.test?.join(' ')).toContain('pg_isready');
    const dockerfile = await readFile(path.join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
  });
});
