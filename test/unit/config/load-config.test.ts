import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load-config.js';
import { ConfigError } from '../../../src/errors.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function loadError(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe('loadConfig', () => {
  it('reads ./nanoclaw.config.yaml from the working folder', async () => {
    await writeFile(path.join(dir, 'nanoclaw.config.yaml'), 'providers:\n  - name: github\n');
    const { config } = await loadConfig({ cwd: dir, env: { NANGO_SECRET_KEY: 'k' } });
    expect(config.configPath).toBe(path.join(dir, 'nanoclaw.config.yaml'));
    expect(config.providers.map((provider) => provider.name)).toEqual(['github']);
  });

  it('runs with defaults when there is no file', async () => {
    const { config } = await loadConfig({ cwd: dir, env: {} });
    expect(config.configPath).toBeNull();
    expect(config.dataDir).toBe(path.join(dir, 'data'));
  });

  it('prefers --config over NANOCLAW_CONFIG', async () => {
    await writeFile(path.join(dir, 'a.yaml'), 'owner: from-flag\n');
    await writeFile(path.join(dir, 'b.yaml'), 'owner: from-env\n');
    const env = { NANOCLAW_CONFIG: 'b.yaml' };
    expect((await loadConfig({ cwd: dir, env, configPath: 'a.yaml' })).config.defaultOwner).toBe('from-flag');
    expect((await loadConfig({ cwd: dir, env })).config.defaultOwner).toBe('from-env');
  });

  it('fails when a named file does not exist', async () => {
    const error = await loadError(loadConfig({ cwd: dir, env: {}, configPath: 'missing.yaml' }));
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.problems).toEqual([
      `${path.join(dir, 'missing.yaml')}: cannot read the config file (ENOENT)`,
    ]);
  });

  it('reports a YAML syntax error with its line and column, without the text around it', async () => {
    const secret = 'sk-live-0f9e8d7c6b5a4f3e2d1c';
    await writeFile(
      path.join(dir, 'nanoclaw.config.yaml'),
      `nango:\n  secretKey: "${secret}\nproviders:\n  - name: [unclosed\n`,
    );
    const error = await loadError(loadConfig({ cwd: dir, env: {} }));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(new RegExp(`^${path.join(dir, 'nanoclaw.config.yaml')}:\\d+:\\d+: `));
    expect(error.message).not.toContain(secret);
    expect(JSON.stringify(error)).not.toContain(secret);
  });

  it('refuses duplicate keys', async () => {
    await writeFile(path.join(dir, 'nanoclaw.config.yaml'), 'owner: a\nowner: b\n');
    const error = await loadError(loadConfig({ cwd: dir, env: {} }));
    expect(error.problems[0]).toMatch(/nanoclaw\.config\.yaml:2:\d+: /);
  });

  it('collects every problem of the file, each as `path: message`', async () => {
    await writeFile(
      path.join(dir, 'nanoclaw.config.yaml'),
      'providers:\n  - name: a\n  - name: b\n  - name: c\n    scopes: calendar\n  - name: ../x\n',
    );
    const error = await loadError(loadConfig({ cwd: dir, env: { NANGO_SECRET_KEY: 'k' } }));
    expect(error.problems).toEqual([
      'providers[2].scopes: expected an array of strings',
      'providers[3].name: expected a provider name: 1-64 lowercase letters, digits, "_", "." or "-"',
    ]);
    expect(error.message).toBe(`invalid configuration:\n  ${error.problems.join('\n  ')}`);
  });

  it('keeps secrets out of the error when a secret sits in the wrong place', async () => {
    const secret = 'sk-live-aa11bb22cc33dd44';
    await writeFile(
      path.join(dir, 'nanoclaw.config.yaml'),
      `nango:\n  secretKey: [${secret}]\n  host: ${secret}\nproviders:\n  - name: a\n    clientSecret: \${CLIENT_SECRET}\n    scopes: \${CLIENT_SECRET}\n`,
    );
    const error = await loadError(loadConfig({ cwd: dir, env: { CLIENT_SECRET: secret } }));
    expect(error.problems.length).toBeGreaterThan(1);
    expect(error.message).not.toContain(secret);
  });
});
