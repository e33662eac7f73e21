import type { ProviderConfig } from '../config/types.js';
import { UsageError } from '../errors.js';
import { validateOwnerId, validateProviderName } from '../names.js';

/** How long `nanoclaw connect` waits for the owner by default: long enough to sign in, short enough to notice. */
export const DEFAULT_CONNECT_TIMEOUT_SECONDS = 15 * 60;
/** A day: a wait longer than that is a forgotten terminal, not an authorization. */
export const MAX_CONNECT_TIMEOUT_SECONDS = 24 * 60 * 60;

/** The flags as commander hands them over, unchecked. */
export interface ConnectFlags {
  provider: string;
  owner?: string | undefined;
  /** `--no-wait` sets this to false. */
  wait?: boolean | undefined;
  timeout?: string | undefined;
  json?: boolean | undefined;
}

/** `nanoclaw connect` settings once every flag is checked. */
export interface ConnectSettings {
  provider: ProviderConfig;
  owner: string;
  wait: boolean;
  timeoutMs: number;
  json: boolean;
}

/** `--timeout`: whole seconds from 1 to a day. */
export function parseConnectTimeout(text: string | undefined): number {
  if (text === undefined) return DEFAULT_CONNECT_TIMEOUT_SECONDS * 1000;
  const seconds = /^\d{1,6}$/.test(text) ? Number(text) : Number.NaN;
  if (!(seconds >= 1 && seconds <= MAX_CONNECT_TIMEOUT_SECONDS)) {
    throw new UsageError(
      `--timeout: expected whole seconds from 1 to ${MAX_CONNECT_TIMEOUT_SECONDS}, got "${text.slice(0, 20)}"`,
    );
  }
  return seconds * 1000;
}

/**
 * Checks the flags against the configuration: the provider must be configured (a usage error, not
 * a source error, when it is not) and the owner must be a valid owner id.
 */
export function resolveConnectSettings(
  flags: ConnectFlags,
  configured: { providers: readonly ProviderConfig[]; defaultOwner: string },
): ConnectSettings {
  const name = validateProviderName(flags.provider);
  const provider = configured.providers.find((candidate) => candidate.name === name);
  if (!provider) throw new UsageError(`provider "${name}" is not configured (see nanoclaw.config.yaml)`);
  return {
    provider,
    owner: validateOwnerId(flags.owner ?? configured.defaultOwner),
    wait: flags.wait ?? true,
    timeoutMs: parseConnectTimeout(flags.timeout),
    json: flags.json ?? false,
  };
}
