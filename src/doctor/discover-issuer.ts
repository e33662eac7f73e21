import { DiscoveryError, type DiscoveredIssuer } from './checks/builtin-provider-check.js';

const WELL_KNOWN = ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'];

/**
 * OpenID Connect discovery, then RFC 8414 metadata, with a plain fetch. The answer must name the
 * same issuer and a token endpoint; its body is never echoed.
 */
export async function discoverIssuer(
  issuer: string,
  signal: AbortSignal,
  fetchImpl: typeof fetch = fetch,
): Promise<DiscoveredIssuer> {
  const base = issuer.replace(/\/+$/, '');
  let lastStatus = 0;
  for (const suffix of WELL_KNOWN) {
    const response = await fetchImpl(`${base}${suffix}`, {
      signal,
      headers: { accept: 'application/json' },
      redirect: 'error',
    });
    if (response.status === 404) {
      lastStatus = 404;
      await response.body?.cancel();
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new DiscoveryError(`HTTP ${response.status} for ${suffix}`);
    }
    let metadata: unknown;
    try {
      metadata = await response.json();
    } catch {
      throw new DiscoveryError(`${suffix} is not JSON`);
    }
    return validateMetadata(metadata, base, suffix);
  }
  throw new DiscoveryError(`no discovery document (HTTP ${lastStatus} for both well-known paths)`);
}

/** Checks the metadata names this issuer and a token endpoint. */
export function validateMetadata(metadata: unknown, issuer: string, where: string): DiscoveredIssuer {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new DiscoveryError(`${where}: expected a JSON object`);
  }
  const record = metadata as Record<string, unknown>;
  if (typeof record.issuer !== 'string' || record.issuer.replace(/\/+$/, '') !== issuer.replace(/\/+$/, '')) {
    throw new DiscoveryError(`${where}: issuer does not match the configured issuer`);
  }
  if (typeof record.token_endpoint !== 'string' || record.token_endpoint === '') {
    throw new DiscoveryError(`${where}: token_endpoint is missing`);
  }
  return { tokenEndpoint: record.token_endpoint };
}
