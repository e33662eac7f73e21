import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../fs/atomic-write.js';
import { makeDirectoryDurable } from '../../fs/fsync-directory.js';
import { isOwnerId } from '../../names.js';
import type { ConnectionMap } from '../../store/connection-map.js';
import { ConnectionRegistryError } from './nango-errors.js';

/**
 * Which Nango connection serves an owner's integration, as learned from the page's connect event,
 * `POST /api/auth/complete` or the creation webhook. Kept in one small JSON file under the data folder.
 */
export class ConnectionRegistry implements ConnectionMap {
  /** One read of the file, shared: callers then resume in the order they called, so updates keep it. */
  #entries: Promise<Record<string, Record<string, string>>> | null = null;
  #writes: Promise<void> = Promise.resolve();

  constructor(private readonly filePath: string) {}

  static inDataDir(dataDir: string): ConnectionRegistry {
    return new ConnectionRegistry(path.join(dataDir, 'nango-connections.json'));
  }

  #load(): Promise<Record<string, Record<string, string>>> {
    if (this.#entries) return this.#entries;
    const loading = this.#read();
    this.#entries = loading;
    // A read that failed (permissions, say) is tried again next time rather than kept.
    loading.catch(() => {
      if (this.#entries === loading) this.#entries = null;
    });
    return loading;
  }

  async #read(): Promise<Record<string, Record<string, string>>> {
    let text: string;
    try {
      text = await readFile(this.filePath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw this.#unreadable(`cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`, error);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw this.#unreadable('is not valid JSON', error);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw this.#unreadable('is not a JSON object of owners');
    }
    const entries: Record<string, Record<string, string>> = {};
    for (const [owner, byIntegration] of Object.entries(parsed)) {
      if (!isOwnerId(owner) || !byIntegration || typeof byIntegration !== 'object') continue;
      const clean: Record<string, string> = {};
      for (const [integration, connectionId] of Object.entries(byIntegration)) {
        if (typeof connectionId === 'string') clean[integration] = connectionId;
      }
      entries[owner] = clean;
    }
    return entries;
  }

  /**
   * A damaged file is reported and left as it is, never replaced by an empty one: that would lose
   * every owner's connection at the next write.
   */
  #unreadable(problem: string, cause?: unknown): ConnectionRegistryError {
    return new ConnectionRegistryError(
      'CONNECTION_REGISTRY_UNREADABLE',
      `the Nango connection registry ${this.filePath} ${problem}; it is left as it is: repair it, or move it ` +
        'away to have connections found again in Nango by end user',
      { cause },
    );
  }

  async get(owner: string, integration: string): Promise<string | null> {
    return (await this.#load())[owner]?.[integration] ?? null;
  }

  async set(owner: string, integration: string, connectionId: string): Promise<void> {
    const entries = await this.#load();
    if (entries[owner]?.[integration] === connectionId) return;
    entries[owner] = { ...entries[owner], [integration]: connectionId };
    await this.#persist(entries);
  }

  async delete(owner: string, integration: string): Promise<void> {
    const entries = await this.#load();
    if (!entries[owner]?.[integration]) return;
    const { [integration]: _removed, ...rest } = entries[owner];
    entries[owner] = rest;
    await this.#persist(entries);
  }

  /** Every recorded connection, for moving the map to another store. */
  async entries(): Promise<Array<{ owner: string; integration: string; connectionId: string }>> {
    const entries = await this.#load();
    return Object.entries(entries).flatMap(([owner, byIntegration]) =>
      Object.entries(byIntegration).map(([integration, connectionId]) => ({
        owner,
        integration,
        connectionId,
      })),
    );
  }

  /** Owners recorded for this connection (a webhook that names no end user). */
  async ownersOf(integration: string, connectionId: string): Promise<string[]> {
    const entries = await this.#load();
    return Object.keys(entries).filter((owner) => entries[owner]?.[integration] === connectionId);
  }

  #persist(entries: Record<string, Record<string, string>>): Promise<void> {
    // Serialize writes so two updates in quick succession land in order.
    const write = this.#writes.then(async () => {
      try {
        // A connection can be recorded before any token was written, so the data folder may be new.
        await makeDirectoryDurable(path.dirname(this.filePath), 0o750);
        // Fsyncs the file and then its folder.
        await writeFileAtomic(this.filePath, `${JSON.stringify(entries, null, 2)}\n`, {
          mode: 0o600,
          owner: 'keep',
        });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new ConnectionRegistryError(
          'CONNECTION_REGISTRY_WRITE_FAILED',
          `cannot write the Nango connection registry ${this.filePath}${code ? ` (${code})` : ''}`,
          { cause: error },
        );
      }
    });
    this.#writes = write.catch(() => {});
    return write;
  }
}
