import type { Runtime } from '../../app/runtime.js';
import {
  migrateFilesToPostgres,
  type MigrationCounts,
  type StoreMigrationReport,
} from '../../app/store-migration.js';
import { UsageError } from '../../errors.js';
import { EXIT_ERROR, EXIT_OK } from '../../exit-codes.js';
import type { CommandResult } from '../command-result.js';

export interface StoreMigrateOptions {
  to: string;
  /** Copy back records deleted from PostgreSQL since an earlier run from this data folder. */
  force?: boolean;
}

/** What `nanoclaw store migrate --json` prints. */
export type StoreMigrateJson = StoreMigrationReport;

/**
 * `nanoclaw store migrate --to postgres`: copies this data folder's grants and Nango connection map
 * into the PostgreSQL of NANOCLAW_DATABASE_URL (or `store.url`), so more hosts can serve the same
 * owners without anyone connecting again. Safe to run again: a row PostgreSQL holds is never replaced,
 * and one deleted since an earlier run is not brought back without `--force`.
 */
export async function storeMigrateCommand(
  runtime: Runtime,
  options: StoreMigrateOptions,
): Promise<CommandResult> {
  if (options.to !== 'postgres') throw new UsageError(`--to: expected "postgres", got "${options.to}"`);
  if (!runtime.store) {
    throw new UsageError(
      'set NANOCLAW_DATABASE_URL (or store.url in the config) to the PostgreSQL to move to',
    );
  }
  const report = await migrateFilesToPostgres(runtime.config.dataDir, runtime.store, {
    force: options.force === true,
  });
  const failed = report.grants.unreadable.length + report.connections.unreadable.length > 0;
  return {
    exitCode: failed ? EXIT_ERROR : EXIT_OK,
    json: report satisfies StoreMigrateJson,
    text: render(report),
  };
}

function line(what: string, counts: MigrationCounts): string {
  const parts = [
    `${counts.written.length} copied`,
    `${counts.unchanged.length} already there`,
    `${counts.keptNewer.length} kept (PostgreSQL's own)`,
  ];
  if (counts.skippedDeleted.length > 0)
    parts.push(
      `${counts.skippedDeleted.length} deleted since the last run, not brought back (--force to): ${counts.skippedDeleted.join(', ')}`,
    );
  if (counts.unreadable.length > 0)
    parts.push(`${counts.unreadable.length} unreadable: ${counts.unreadable.join(', ')}`);
  return `${what}: ${parts.join(', ')}`;
}

function render(report: StoreMigrationReport): string {
  return [
    report.previousRun === null
      ? `Moved to ${report.target}`
      : `Moved to ${report.target} (again: an earlier run from this data folder was at ${report.previousRun})`,
    line('  grants', report.grants),
    line('  Nango connections', report.connections),
    '',
    "Grants are copied sealed: every host needs this host's encryption key (NANOCLAW_ENCRYPTION_KEY,",
    'or the contents of data/builtin/key). The files are left as they were.',
  ].join('\n');
}
