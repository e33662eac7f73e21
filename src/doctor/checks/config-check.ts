import type { LoadedConfig } from '../../config/load-config.js';
import type { NanoclawConfig } from '../../config/types.js';
import { ConfigError, describeError } from '../../errors.js';
import { fail, ok, warn, type CheckResult } from '../check-result.js';

export interface ConfigCheckOutcome {
  result: CheckResult;
  /** null when the configuration cannot be used; the checks that need it are then skipped. */
  config: NanoclawConfig | null;
}

/** Loads (and so validates) the configuration; every `path: message` problem goes into the finding. */
export async function checkConfig(load: () => Promise<LoadedConfig>): Promise<ConfigCheckOutcome> {
  let loaded: LoadedConfig;
  try {
    loaded = await load();
  } catch (error) {
    if (error instanceof ConfigError) {
      const count = error.problems.length;
      const folder = error.problems.find((problem) => problem.endsWith('(EISDIR)'));
      if (folder !== undefined) {
        // Docker creates a folder where a bind-mounted file is missing.
        return {
          config: null,
          result: fail(
            'config',
            folder,
            'the config path is a folder (Docker makes one when a mounted file is missing): remove it, create the file (touch nanoclaw.config.yaml), restart',
          ),
        };
      }
      return {
        config: null,
        result: fail(
          'config',
          `${count} ${count === 1 ? 'problem' : 'problems'}: ${error.problems.join('; ')}`,
          'fix each `path: message` in nanoclaw.config.yaml (or the environment variable it names), then run nanoclaw doctor again',
        ),
      };
    }
    const { code, message } = describeError(error);
    return {
      config: null,
      result: fail(
        'config',
        `cannot load the configuration: ${message} (${code})`,
        'check the --config path and that the file is readable',
      ),
    };
  }
  const { config, warnings } = loaded;
  const source = config.configPath
    ? `loaded ${config.configPath}`
    : 'no config file: using the defaults and the environment';
  const result =
    warnings.length > 0
      ? warn('config', `${source}; ${warnings.join('; ')}`, 'address the warnings in nanoclaw.config.yaml')
      : ok(
          'config',
          `${source} (${config.providers.length} ${config.providers.length === 1 ? 'provider' : 'providers'})`,
        );
  return { config, result };
}
