import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ConfigError } from '../errors.js';
import { resolveConfig, type ConfigOverrides, type Environment } from './resolve-config.js';
import type { NanoclawConfig } from './types.js';

export const DEFAULT_CONFIG_FILE = 'nanoclaw.config.yaml';

export interface LoadConfigOptions {
  /** `--config`; falls back to NANOCLAW_CONFIG, then ./nanoclaw.config.yaml when it exists. */
  configPath?: string | undefined;
  env?: Environment;
  cwd?: string;
  overrides?: ConfigOverrides;
  /** The configuration as an object of the file's shape (a library user's); no file is read then. */
  value?: unknown;
}

export interface LoadedConfig {
  config: NanoclawConfig;
  warnings: string[];
}

/** Reads, interpolates and validates the configuration once; every problem is a `path: message` line. */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  if (options.value !== undefined) {
    const result = resolveConfig(options.value, {
      env,
      cwd,
      configPath: null,
      ...(options.overrides ? { overrides: options.overrides } : {}),
    });
    if ('errors' in result) throw new ConfigError(result.errors);
    return result;
  }
  const explicit = options.configPath ?? (env.NANOCLAW_CONFIG || undefined);
  const configPath = path.resolve(cwd, explicit ?? DEFAULT_CONFIG_FILE);

  let text: string | null = null;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' || explicit !== undefined) {
      throw new ConfigError([`${configPath}: cannot read the config file (${code ?? 'unknown error'})`], {
        cause: error,
      });
    }
  }

  let fileValue: unknown = undefined;
  if (text !== null) {
    try {
      fileValue = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
    } catch (error) {
      if (error instanceof YAMLParseError) {
        const position = error.linePos?.[0];
        const where = position ? `${configPath}:${position.line}:${position.col}` : configPath;
        throw new ConfigError([`${where}: ${error.message.split('\n')[0]}`], { cause: error });
      }
      throw error;
    }
  }

  const result = resolveConfig(fileValue, {
    env,
    cwd,
    configPath: text === null ? null : configPath,
    ...(options.overrides ? { overrides: options.overrides } : {}),
  });
  if ('errors' in result) throw new ConfigError(result.errors);
  return result;
}
