import type { BuiltinProviderConfig } from '../../config/types.js';
import { describeError } from '../../errors.js';
import { DiscoveryError } from '../../sources/builtin/builtin-errors.js';
import { displayUrl, fail, ok, type CheckResult } from '../check-result.js';
import { CheckTimeoutError } from '../with-timeout.js';

/** What discovery found; only what doctor needs to judge it. */
export interface DiscoveredIssuer {
  tokenEndpoint: string | null;
}

/** Fetches and validates an issuer's metadata, as the built-in source does; throws `DiscoveryError`. */
export type DiscoverIssuer = (issuer: string, signal: AbortSignal) => Promise<DiscoveredIssuer>;

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
  const issuerFix = `check providers[].issuer of "${provider.name}" (the issuer's exact URL) and that this host can reach it`;
  let found: DiscoveredIssuer;
  try {
    found = await discover(provider.issuer, signal);
  } catch (error) {
    if (error instanceof DiscoveryError) return fail(name, error.message, issuerFix);
    const reason = error instanceof CheckTimeoutError ? error.message : describeError(error).code;
    return fail(name, `cannot reach the issuer ${issuer} (${reason})`, issuerFix);
  }
  const tokenEndpoint = provider.tokenUrl ?? found.tokenEndpoint;
  if (tokenEndpoint === null) {
    return fail(
      name,
      `the issuer ${issuer} names no token endpoint`,
      `set providers[].tokenUrl of "${provider.name}"`,
    );
  }
  return ok(name, `discovery at ${issuer} answers (token endpoint ${displayUrl(tokenEndpoint)})`);
}
