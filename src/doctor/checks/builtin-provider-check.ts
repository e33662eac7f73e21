import type { BuiltinProviderConfig } from '../../config/types.js';
import { describeError } from '../../errors.js';
import { displayUrl, fail, ok, type CheckResult } from '../check-result.js';
import { CheckTimeoutError } from '../with-timeout.js';

/** What discovery found; only what doctor needs to judge it. */
export interface DiscoveredIssuer {
  tokenEndpoint: string;
}

/** Fetches and validates an issuer's metadata; throws `DiscoveryError` or a transport error. */
export type DiscoverIssuer = (issuer: string, signal: AbortSignal) => Promise<DiscoveredIssuer>;

/** The issuer answered, but not with metadata we can use. */
export class DiscoveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiscoveryError';
  }
}

/** For a built-in provider: its issuer's discovery document answers and names a token endpoint. */
export async function checkBuiltinProvider(
  provider: BuiltinProviderConfig,
  discover: DiscoverIssuer,
  signal: AbortSignal,
): Promise<CheckResult> {
  const name = `builtin-source:${provider.name}`;
  if (provider.issuer === null) {
    return ok(
      name,
      `endpoints set directly (token endpoint ${displayUrl(provider.tokenUrl ?? '')}); nothing to discover`,
    );
  }
  const issuer = displayUrl(provider.issuer);
  try {
    const found = await discover(provider.issuer, signal);
    return ok(name, `discovery at ${issuer} answers (token endpoint ${displayUrl(found.tokenEndpoint)})`);
  } catch (error) {
    if (error instanceof DiscoveryError) {
      return fail(
        name,
        `discovery at ${issuer} failed: ${error.message}`,
        `check providers[].issuer for "${provider.name}": it must be the issuer's exact URL`,
      );
    }
    const reason = error instanceof CheckTimeoutError ? error.message : describeError(error).code;
    return fail(
      name,
      `cannot reach the issuer ${issuer} (${reason})`,
      `check the network path from this host to ${issuer}, or the issuer URL in nanoclaw.config.yaml`,
    );
  }
}
