import type { NangoSettings } from '../../config/types.js';
import { describeError } from '../../errors.js';
import { describeNangoFailure } from '../../sources/nango/map-nango-error.js';
import { parseConnectionList } from '../../sources/nango/parse-nango-response.js';
import { displayUrl, fail, ok, type CheckResult } from '../check-result.js';
import { CheckTimeoutError } from '../with-timeout.js';

export interface NangoCheckInput {
  settings: Pick<NangoSettings, 'host'>;
  /** Lists the owner's connections: the cheapest call that needs a valid secret key. */
  listConnections: (signal: AbortSignal) => Promise<unknown>;
}

const NAME = 'nango-source';

/** Nango answers and accepts NANGO_SECRET_KEY; the key itself is never shown. */
export async function checkNango(input: NangoCheckInput, signal: AbortSignal): Promise<CheckResult> {
  const host = displayUrl(input.settings.host);
  let answer: unknown;
  try {
    answer = await input.listConnections(signal);
  } catch (error) {
    const failure = describeNangoFailure(error);
    const timedOut = failure.transportCode === 'ECONNABORTED' || failure.transportCode === 'ETIMEDOUT';
    if (error instanceof CheckTimeoutError || (failure.status === null && timedOut)) {
      return fail(
        NAME,
        `Nango at ${host} did not answer in time`,
        'check that Nango runs and NANGO_HOST points at it',
      );
    }
    if (failure.status === 401 || failure.status === 403) {
      return fail(
        NAME,
        `Nango at ${host} rejected NANGO_SECRET_KEY (HTTP ${failure.status}${failure.errorCode ? ` ${failure.errorCode}` : ''})`,
        "copy the secret key from the Nango dashboard (Environment Settings) into NANGO_SECRET_KEY, and check NANGO_HOST is that environment's server",
      );
    }
    if (failure.status !== null) {
      return fail(
        NAME,
        `Nango at ${host} answered HTTP ${failure.status}${failure.errorCode ? ` (${failure.errorCode})` : ''}`,
        'check the Nango server logs; check NANGO_HOST points at the Nango API (port 3003 when self-hosted)',
      );
    }
    const reason = failure.transportCode ?? describeError(error).code;
    return fail(
      NAME,
      `cannot reach Nango at ${host} (${reason})`,
      'start Nango (docker-compose up -d nango-server) or fix NANGO_HOST',
    );
  }
  try {
    const connections = parseConnectionList(answer);
    return ok(
      NAME,
      `Nango at ${host} accepts the secret key (${connections.length} connections for the default owner)`,
    );
  } catch {
    return fail(
      NAME,
      `${host} answered, but not like a Nango API`,
      'point NANGO_HOST at the Nango API (port 3003 when self-hosted), not the dashboard or Connect UI',
    );
  }
}
