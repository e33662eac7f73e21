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
}

/** What `nanoclaw store migrate --json` prints. */
export type StoreMigrateJson = StoreMigrationReport;

/**
 * `nanoclaw store migrate --to postgres`: copies this data folder's grants and Nango connection map
 * into the PostgreSQL of NANOCLAW_DATABASE_URL (or `store.url`), so more hosts can serve the same
 * owners without anyone connecting again. Safe to run again; never overwrites newer rows.
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
  const report = await migrateFilesToPostgres(runtime.config.dataDir, runtime.store);
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
    `${counts.keptNewer.length} kept (newer in PostgreSQL)`,
  ];
  if (counts.unreadable.length > 0)
    parts.push(`${counts.unreadable.length} unreadable: ${counts.unreadable.join(', ')}`);
  return `${what}: ${parts.join(', ')}`;
}

function render(report: StoreMigrationReport): string {
  return [
    `Moved to ${report.target}`,
    line('  grants', report.grants),
    line('  Nango connections', report.connections),
    '',
    "Grants are copied sealed: every host needs this host's encryption key (NANOCLAW_ENCRYPTION_KEY,",
    'or the contents of data/builtin/key). The files are left as they were.',
  ].join('\n');
}
