import { UsageError } from '../../errors.js';
import { validateProviderName } from '../../names.js';
import type { SyncResult } from '../../tokens/sync-result.js';
import type { CommandResult } from '../command-result.js';
import { InterruptedError } from '../interrupted-error.js';
import { EXIT_ERROR, EXIT_NEEDS_AUTH, EXIT_OK, EXIT_USAGE } from '../../exit-codes.js';
import { selectOwners, type OwnerSelection } from '../owners.js';
import { formatRelative, formatTime, renderTable } from '../output/table.js';
import type { Runtime } from '../../app/runtime.js';

export interface SyncCommandOptions extends OwnerSelection {
  providers?: string[];
  force?: boolean;
  signal?: AbortSignal;
}

/** Counts over the results of one `nanoclaw sync`. */
export interface SyncSummary {
  total: number;
  usable: number;
  needsAuth: number;
  errors: number;
  unavailable: number;
}

/** What `nanoclaw sync --json` prints: a stable shape, documented in the README. */
export interface SyncCommandJson {
  results: SyncResult[];
  summary: SyncSummary;
}

/** `nanoclaw sync`: pulls fresh tokens for the chosen providers and owners into the token folder. */
export async function syncCommand(runtime: Runtime, options: SyncCommandOptions): Promise<CommandResult> {
  const names = options.providers?.length
    ? [...new Set(options.providers)]
    : runtime.tokenSync.providers.map((provider) => provider.name);
  for (const name of names) {
    validateProviderName(name);
    if (!runtime.tokenSync.providers.some((provider) => provider.name === name)) {
      throw new UsageError(`provider "${name}" is not configured (see nanoclaw.config.yaml)`);
    }
  }
  const owners = await selectOwners(runtime, options);
  const targets = owners.flatMap((owner) => names.map((provider) => ({ owner, provider })));
  let results: SyncResult[];
  try {
    results = await runtime.tokenSync.syncMany(targets, {
      force: options.force ?? false,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if (options.signal?.aborted) throw interrupted(error);
    throw error;
  }
  // The requests cut short read as errors; what matters is that the sync did not finish.
  if (options.signal?.aborted) throw interrupted();
  return {
    exitCode: exitCodeForSync(results),
    json: { results, summary: summarize(results) } satisfies SyncCommandJson,
    text:
      results.length === 0
        ? 'No providers are configured: add some to nanoclaw.config.yaml.'
        : renderSyncResults(results),
  };
}

function interrupted(cause?: unknown): InterruptedError {
  return new InterruptedError(
    'the sync stopped before it was done; token files already written are kept and the others are ' +
      'unchanged (nanoclaw status shows them)',
    cause === undefined ? {} : { cause },
  );
}

/**
 * 2 when the token source refused our configuration (a wrong key or integration id), 1 when anything
 * else failed or is unusable, else 3 when something needs authorization, else 0.
 */
export function exitCodeForSync(results: readonly SyncResult[]): number {
  // Retrying will not help these; scripts should treat them like any other configuration error.
  if (results.some((result) => result.state === 'error' && result.code === 'TOKEN_SOURCE_CONFIG')) {
    return EXIT_USAGE;
  }
  // A source may hand over a token that has already expired: 0 promises every token is usable.
  if (
    results.some((result) => result.state === 'error' || (result.state !== 'needs-auth' && !result.usable))
  ) {
    return EXIT_ERROR;
  }
  if (results.some((result) => result.state === 'needs-auth')) return EXIT_NEEDS_AUTH;
  return EXIT_OK;
}

function summarize(results: readonly SyncResult[]): SyncSummary {
  return {
    total: results.length,
    usable: results.filter((result) => result.usable).length,
    needsAuth: results.filter((result) => result.state === 'needs-auth').length,
    errors: results.filter((result) => result.state === 'error').length,
    unavailable: results.filter((result) => result.state === 'unavailable').length,
  };
}

/** The sync table for people: one row per (owner, provider). */
export function renderSyncResults(results: readonly SyncResult[], now = Date.now()): string {
  return renderTable(
    ['OWNER', 'PROVIDER', 'STATE', 'EXPIRES', 'SYNCED AT', 'DETAIL'],
    results.map((result) => [
      result.owner,
      result.provider,
      result.state,
      result.expiresAt || result.usable ? formatRelative(result.expiresAt, now) : '-',
      formatTime(result.syncedAt),
      result.message ?? '',
    ]),
  );
}
