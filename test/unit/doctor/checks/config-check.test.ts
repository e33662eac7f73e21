import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../../src/config/resolve-config.js';
import type { NanoclawConfig } from '../../../../src/config/types.js';
import { checkConfig } from '../../../../src/doctor/checks/config-check.js';
import { ConfigError } from '../../../../src/errors.js';

function defaults(): NanoclawConfig {
  const result = resolveConfig(undefined, { env: {}, cwd: '/srv/app', configPath: null });
  if ('errors' in result) throw new Error(result.errors.join('\n'));
  return result.config;
}

describe('checkConfig', () => {
  it('fails with every `path: message` problem when the configuration is invalid', async () => {
    const outcome = await checkConfig(async () => {
      throw new ConfigError([
        'providers[0].clientId: required for the builtin source',
        'server.port: expected a port number',
      ]);
    });
    expect(outcome.config).toBeNull();
    expect(outcome.result).toMatchObject({ name: 'config', status: 'fail' });
    expect(outcome.result.message).toBe(
      '2 problems: providers[0].clientId: required for the builtin source; server.port: expected a port number',
    );
    expect(outcome.result.fix).toContain('nanoclaw.config.yaml');
  });

  it('explains a config path that is a folder, as Docker leaves it when the mounted file is missing', async () => {
    const outcome = await checkConfig(async () => {
      throw new ConfigError(['/app/nanoclaw.config.yaml: cannot read the config file (EISDIR)']);
    });
    expect(outcome.result).toMatchObject({
      status: 'fail',
      message: '/app/nanoclaw.config.yaml: cannot read the config file (EISDIR)',
    });
    expect(outcome.result.fix).toContain('touch nanoclaw.config.yaml');
  });

  it('fails on any other loading error with its code, never a stack', async () => {
    const outcome = await checkConfig(async () => {
      throw Object.assign(new Error('EISDIR: illegal operation on a directory'), { code: 'EISDIR' });
    });
    expect(outcome.result.status).toBe('fail');
    expect(outcome.result.message).toContain('(EISDIR)');
  });

  it('passes with the loaded configuration, and warns when loading produced warnings', async () => {
    const config = defaults();
    const clean = await checkConfig(async () => ({ config, warnings: [] }));
    expect(clean.config).toBe(config);
    expect(clean.result).toMatchObject({ status: 'ok', fix: null });
    expect(clean.result.message).toContain('no config file');

    const warned = await checkConfig(async () => ({
      config,
      warnings: ['refresh.margin: shorter than a minute'],
    }));
    expect(warned.result.status).toBe('warn');
    expect(warned.result.message).toContain('refresh.margin: shorter than a minute');
  });
});
