import { readFile } from 'node:fs/promises';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { fsyncDirectory, makeDirectoryDurable } from '../../fs/fsync-directory.js';
import { isOwnerId } from '../../names.js';

/**
 * Which Nango connection serves an owner's integration, as learned from the page's connect event,
 * `POST /api/auth/complete` or the creation webhook. Kept in one small JSON file under the data folder.
 */
export class ConnectionRegistry {
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
    let entries: Record<string, Record<string, string>> = {};
    try {
      const parsed: unknown = JSON.parse(await readFile(this.filePath, 'utf8'));
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        for (const [owner, byIntegration] of Object.entries(parsed)) {
          if (!isOwnerId(owner) || !byIntegration || typeof byIntegration !== 'object') continue;
          const clean: Record<string, string> = {};
          for (const [integration, connectionId] of Object.entries(byIntegration)) {
            if (typeof connectionId === 'string') clean[integration] = connectionId;
          }
          entries[owner] = clean;
        }
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && !(error instanceof SyntaxError)) throw error;
      entries = {};
    }
    return entries;
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

  /** Owners recorded for this connection (a webhook that names no end user). */
  async ownersOf(integration: string, connectionId: string): Promise<string[]> {
    const entries = await this.#load();
    return Object.keys(entries).filter((owner) => entries[owner]?.[integration] === connectionId);
  }

  #persist(entries: Record<string, Record<string, string>>): Promise<void> {
    // Serialize writes so two updates in quick succession land in order.
    const write = this.#writes.then(async () => {
      // A connection can be recorded before any token was written, so the data folder may be new.
      await makeDirectoryDurable(path.dirname(this.filePath), 0o750);
      await writeFileAtomic(this.filePath, `${JSON.stringify(entries, null, 2)}\n`, {
        mode: 0o600,
        fsync: true,
      });
      await fsyncDirectory(path.dirname(this.filePath));
    });
    this.#writes = write.catch(() => {});
    return write;
  }
}
