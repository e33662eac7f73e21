import path from 'node:path';
import { ConnectionRegistry } from '../sources/nango/connection-registry.js';
import { FileGrantRecords, generationOf } from '../store/file/file-grant-records.js';
import type { PostgresStore } from '../store/postgres/postgres-store.js';

/** What moving one kind of record did; names are `owner/provider` (grants) or `owner/integration`. */
export interface MigrationCounts {
  written: string[];
  unchanged: string[];
  /** PostgreSQL already holds a newer record: it is kept, the file's is not copied. */
  keptNewer: string[];
  /** Files that could not be read; left where they are, and nothing written for them. */
  unreadable: string[];
}

export interface StoreMigrationReport {
  target: string;
  grants: MigrationCounts;
  connections: MigrationCounts;
}

const emptyCounts = (): MigrationCounts => ({ written: [], unchanged: [], keptNewer: [], unreadable: [] });

/**
 * Copies a data folder's built-in grants (still sealed: the key is not needed, nor sent) and Nango
 * connection map into PostgreSQL. Idempotent: a record already there is left alone, and a newer one
 * (a higher grant generation, or a different connection recorded since) is never overwritten. The
 * files stay as they are.
 */
export async function migrateFilesToPostgres(
  dataDir: string,
  target: PostgresStore,
): Promise<StoreMigrationReport> {
  await target.ready();
  const report: StoreMigrationReport = {
    target: target.where,
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
    const outcome = await target.grants.importRecord({ owner, provider, text, generation });
    const bucket = outcome === 'written' ? 'written' : outcome === 'unchanged' ? 'unchanged' : 'keptNewer';
    report.grants[bucket].push(name);
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
    const name = `${owner}/${integration}`;
    const existing = await target.connections.get(owner, integration);
    if (existing === connectionId) report.connections.unchanged.push(name);
    else if (existing !== null) report.connections.keptNewer.push(name);
    else {
      await target.connections.set(owner, integration, connectionId);
      report.connections.written.push(name);
    }
  }
  return report;
}
