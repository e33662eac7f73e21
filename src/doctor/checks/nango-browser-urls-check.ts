import type { NangoSettings } from '../../config/types.js';
import { displayUrl, ok, warn, type CheckResult } from '../check-result.js';

const NAME = 'nango-browser-urls';
const NANGO_CLOUD_API = 'https://api.nango.dev';

/** A host name only a container network resolves: one label, not localhost, not an address. */
function isContainerOnlyHost(url: string): boolean {
  try {
    const { hostname } = new URL(url);
    return (
      hostname !== 'localhost' &&
      !hostname.includes('.') &&
      !hostname.includes(':') &&
      !hostname.startsWith('[')
    );
  } catch {
    return false;
  }
}

/**
 * The page opens Nango's Connect UI in the browser, so the URLs it gets must be ones a browser can
 * reach; the daemon's own NANGO_HOST is often a name only containers resolve.
 */
export function checkNangoBrowserUrls(
  nango: Pick<NangoSettings, 'host' | 'connectBaseUrl' | 'connectApiUrl'> | null,
): CheckResult | null {
  if (nango === null) return null;
  const selfHosted = nango.host !== NANGO_CLOUD_API;
  if (selfHosted && nango.connectBaseUrl === null) {
    return warn(
      NAME,
      `Nango at ${displayUrl(nango.host)} is self-hosted, but the page would open the cloud Connect UI`,
      'set NANGO_CONNECT_URL to your Connect UI as browsers reach it (compose: NANGO_PUBLIC_CONNECT_URL, http://localhost:3009)',
    );
  }
  if (nango.connectApiUrl === null && isContainerOnlyHost(nango.host)) {
    return warn(
      NAME,
      `browsers cannot reach ${displayUrl(nango.host)}, which the page would give the Connect UI as Nango's API`,
      'set nango.connectApiUrl in nanoclaw.config.yaml to Nango as browsers reach it (compose: connectApiUrl: ${NANGO_SERVER_URL})',
    );
  }
  return ok(
    NAME,
    `the page sends browsers to ${displayUrl(nango.connectBaseUrl ?? 'https://connect.nango.dev')}`,
  );
}
