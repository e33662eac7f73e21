import { readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../fs/atomic-write.js';
import { makeDirectoryDurable } from '../../fs/fsync-directory.js';
import type { GrantLock, GrantRecord, GrantRecordStore } from '../grant-records.js';
import { StoreError } from '../store-errors.js';
import { acquireFileLock, type HeldLock } from './file-lock.js';

export interface FileGrantRecordsOptions {
  /** `data/builtin/grants`. */
  dir: string;
  /** How long to wait for another process's refresh of the same grant. */
  lockTimeoutMs?: number;
  lockStaleMs?: number;
}

/**
 * Grants as files, one per grant at `<dir>/<owner>/<provider>.json`, written atomically (temp file,
 * fsync, rename, folder fsync) with mode 0600, and a lock file per grant shared by every process
 * that uses the data folder. One file per grant: whoever holds a grant's lock rewrites exactly that
 * file, and a refresh rewrites a few hundred bytes, not every owner's credentials.
 */
export class FileGrantRecords implements GrantRecordStore {
  readonly dir: string;
  readonly #lockTimeoutMs: number;
  readonly #lockStaleMs: number;

  constructor(options: FileGrantRecordsOptions) {
    this.dir = options.dir;
    this.#lockTimeoutMs = options.lockTimeoutMs ?? 30_000;
    this.#lockStaleMs = options.lockStaleMs ?? 15_000;
  }

  /** Owner and provider must already be valid names: they become path segments. */
  where(owner: string, provider: string): string {
    return path.join(this.dir, owner, `${provider}.json`);
  }

  async read(owner: string, provider: string): Promise<string | null> {
    const file = this.where(owner, provider);
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new StoreError('STORE_UNREADABLE', `cannot read ${file}`, { cause: error });
    }
  }

  async write(record: GrantRecord): Promise<void> {
    const file = this.where(record.owner, record.provider);
    if (record.expectedGeneration !== undefined) await this.#fence(record, file);
    try {
      await makeDirectoryDurable(path.dirname(file), 0o700);
      // Fsyncs the file and then its folder.
      await writeFileAtomic(file, record.text, { mode: 0o600, owner: 'keep' });
    } catch (error) {
      throw new StoreError('STORE_WRITE_FAILED', `cannot write ${file}`, { cause: error });
    }
  }

  /**
   * A fenced write goes on only over the generation its writer read. Writers hold the grant's lock
   * file, so this only matters once a lock was taken over as stale while its holder still worked.
   */
  async #fence(record: GrantRecord, file: string): Promise<void> {
    const current = await this.read(record.owner, record.provider);
    const generation = current === null ? null : generationOf(current);
    if (current !== null && generation === null) {
      throw new StoreError('STORE_CONFLICT', `${file} changed since it was read and cannot be told apart`);
    }
    if (generation !== record.expectedGeneration) {
      throw new StoreError(
        'STORE_CONFLICT',
        `${file} changed since it was read (generation ${generation ?? 'none'}, expected ${record.expectedGeneration ?? 'none'}): nothing was written`,
      );
    }
  }

  async delete(owner: string, provider: string): Promise<boolean> {
    const file = this.where(owner, provider);
    try {
      await unlink(file);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw new StoreError('STORE_WRITE_FAILED', `cannot remove ${file}`, { cause: error });
    }
  }

  lock(owner: string, provider: string, signal: AbortSignal): Promise<HeldLock> {
    const lockPath = path.join(this.dir, owner, `${provider}.lock`);
    return acquireFileLock(lockPath, { signal, timeoutMs: this.#lockTimeoutMs, staleMs: this.#lockStaleMs });
  }

  async withLock<T>(
    owner: string,
    provider: string,
    signal: AbortSignal,
    work: (lock: GrantLock) => Promise<T>,
  ): Promise<T> {
    const held = await this.lock(owner, provider, signal);
    try {
      return await work({
        read: () => this.read(owner, provider),
        writeLast: (record) => this.write(record),
      });
    } finally {
      await held.release();
    }
  }

  async list(): Promise<Array<{ owner: string; provider: string }>> {
    const found: Array<{ owner: string; provider: string }> = [];
    let owners: string[];
    try {
      owners = await readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new StoreError('STORE_UNREADABLE', `cannot list ${this.dir}`, { cause: error });
    }
    for (const owner of owners.sort()) {
      let files: string[];
      try {
        files = await readdir(path.join(this.dir, owner));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
        throw new StoreError('STORE_UNREADABLE', `cannot list ${path.join(this.dir, owner)}`, {
          cause: error,
        });
      }
      for (const file of files.sort()) {
        if (file.endsWith('.json')) found.push({ owner, provider: file.slice(0, -'.json'.length) });
      }
    }
    return found;
  }
}

/** The generation a sealed grant's text records in clear, or null when it cannot be told. */
export function generationOf(text: string): number | null {
  try {
    const value = (JSON.parse(text) as { generation?: unknown }).generation;
    return typeof value === 'number' && Number.isSafeInteger(value) ? value : null;
  } catch {
    return null;
  }
}
