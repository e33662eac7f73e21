import { hostname } from 'node:os';
import path from 'node:path';
import { ConnectionRegistry } from '../sources/nango/connection-registry.js';
import { FileGrantRecords, generationOf } from '../store/file/file-grant-records.js';
import { PgStoreImport, type StoreImportOutcome } from '../store/postgres/pg-store-import.js';
import type { PostgresStore } from '../store/postgres/postgres-store.js';

/** What moving one kind of record did; names are `owner/provider` (grants) or `owner/integration`. */
export interface MigrationCounts {
  written: string[];
  unchanged: string[];
  /**
   * PostgreSQL already holds a record of its own (refreshed, or connected again, since): it is the
   * record of truth and kept; the file's copy is not written.
   */
  keptNewer: string[];
  /**
   * An earlier run from this data folder copied (or found) this record, and it has been deleted from
   * PostgreSQL since (a disconnect): not brought back unless `--force`.
   */
  skippedDeleted: string[];
  /** Files that could not be read; left where they are, and nothing written for them. */
  unreadable: string[];
}

export interface StoreMigrationReport {
  target: string;
  /** When an earlier migration from this data folder ran (ISO 8601), or null for the first. */
  previousRun: string | null;
  grants: MigrationCounts;
  connections: MigrationCounts;
}

export interface StoreMigrationOptions {
  /** Copy back records deleted from PostgreSQL since an earlier run from this data folder. */
  force?: boolean;
}

const emptyCounts = (): MigrationCounts => ({
  written: [],
  unchanged: [],
  keptNewer: [],
  skippedDeleted: [],
  unreadable: [],
});

const BUCKET: Record<StoreImportOutcome, Exclude<keyof MigrationCounts, 'unreadable'>> = {
  written: 'written',
  unchanged: 'unchanged',
  kept: 'keptNewer',
  skipped_deleted: 'skippedDeleted',
};

/**
 * Copies a data folder's built-in grants (still sealed: the key is not needed, nor sent) and Nango
 * connection map into PostgreSQL. Once PostgreSQL holds a row it is the record of truth: only absent
 * rows are written, and a row deleted since an earlier run from the same folder is not brought back
 * (unless `force`). Idempotent. The files stay as they are.
 */
export async function migrateFilesToPostgres(
  dataDir: string,
  target: PostgresStore,
  options: StoreMigrationOptions = {},
): Promise<StoreMigrationReport> {
  await target.ready();
  const importer = new PgStoreImport(target.db, `${hostname()}:${path.resolve(dataDir)}`, options);
  const previous = await importer.begin();
  const report: StoreMigrationReport = {
    target: target.where,
    previousRun: previous === null ? null : previous.toISOString(),
    grants: emptyCounts(),
    connections: emptyCounts(),
  };

  const files = new FileGrantRecords({ dir: path.join(dataDir, 'builtin', 'grants') });
  for (const { owner, provider } of await files.list()) {
    const name = `${owner}/${provider}`;
    const text = await files.read(owner, provider).catch(() => null);
    const generation = text === null ? null : generationOf(text);
    if (text === null || generation === null) {
      report.grants.unreadable.push(name);
      continue;
    }
    report.grants[BUCKET[await importer.grant(owner, provider, text, generation)]].push(name);
  }

  const registry = ConnectionRegistry.inDataDir(dataDir);
  let entries: Awaited<ReturnType<ConnectionRegistry['entries']>>;
  try {
    entries = await registry.entries();
  } catch {
    report.connections.unreadable.push(path.join(dataDir, 'nango-connections.json'));
    entries = [];
  }
  for (const { owner, integration, connectionId } of entries) {
    const outcome = await importer.connection(owner, integration, connectionId);
    report.connections[BUCKET[outcome]].push(`${owner}/${integration}`);
  }
  return report;
}
