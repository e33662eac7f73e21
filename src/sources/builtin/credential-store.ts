import { readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { fsyncDirectory, makeDirectoryDurable } from '../../fs/fsync-directory.js';
import { validateOwnerId, validateProviderName } from '../../names.js';
import { CredentialStoreError } from './builtin-errors.js';
import { loadEncryptionKey } from './encryption-key.js';
import { acquireFileLock, type HeldLock } from './grant-lock.js';
import type { SecretBox } from './secret-box.js';
import { parseGrant, serializeGrant, type StoredGrant } from './stored-grant.js';

/**
 * Owner under which a client-credentials token is kept: it belongs to no user and is the same for
 * every owner. Owner ids cannot start with "_", so it never meets a real owner's folder.
 */
export const CLIENT_GRANT_OWNER = '_client';

export interface CredentialStoreOptions {
  /** `data/builtin`. */
  dir: string;
  /** NANOCLAW_ENCRYPTION_KEY; null means the key file `<dir>/key`. */
  encryptionKey: string | null;
  /** How long to wait for another process's refresh of the same grant. */
  lockTimeoutMs?: number;
  lockStaleMs?: number;
}

/**
 * The built-in source's credentials: one file per grant at `grants/<owner>/<provider>.json`, tokens
 * sealed with AES-256-GCM, written atomically (temp file, fsync, rename) with mode 0600.
 *
 * One file per grant because the cross-process lock is per grant: whoever holds a grant's lock can
 * read, refresh and rewrite exactly that file without racing writers of other grants, and a refresh
 * rewrites a few hundred bytes, not every owner's credentials.
 */
export class CredentialStore {
  readonly dir: string;
  readonly #encryptionKey: string | null;
  readonly #lockTimeoutMs: number;
  readonly #lockStaleMs: number;
  #box: Promise<SecretBox> | null = null;

  constructor(options: CredentialStoreOptions) {
    this.dir = options.dir;
    this.#encryptionKey = options.encryptionKey;
    this.#lockTimeoutMs = options.lockTimeoutMs ?? 30_000;
    this.#lockStaleMs = options.lockStaleMs ?? 15_000;
  }

  static inDataDir(dataDir: string, encryptionKey: string | null): CredentialStore {
    return new CredentialStore({ dir: path.join(dataDir, 'builtin'), encryptionKey });
  }

  get keyFile(): string {
    return path.join(this.dir, 'key');
  }

  /** Loads the key (creating the key file on first use); a malformed key fails here, clearly. */
  open(): Promise<SecretBox> {
    if (!this.#box) {
      const box = loadEncryptionKey({ configured: this.#encryptionKey, keyFile: this.keyFile });
      box.catch(() => {
        // A bad key is reported to every caller that asks, and read again once it is fixed.
        if (this.#box === box) this.#box = null;
      });
      this.#box = box;
    }
    return this.#box;
  }

  grantFile(owner: string, provider: string): string {
    return path.join(this.#ownerDir(owner), `${validateProviderName(provider)}.json`);
  }

  #ownerDir(owner: string): string {
    if (owner !== CLIENT_GRANT_OWNER) validateOwnerId(owner);
    return path.join(this.dir, 'grants', owner);
  }

  /** The grant, or null when there is none. An unreadable file is an error, never "none". */
  async read(owner: string, provider: string): Promise<StoredGrant | null> {
    const file = this.grantFile(owner, provider);
    const box = await this.open();
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new CredentialStoreError('CREDENTIAL_STORE_UNREADABLE', `cannot read ${file}`, { cause: error });
    }
    return parseGrant(text, box, { owner, provider, file });
  }

  /**
   * Durable when it returns: the data is fsynced before the rename that makes it visible, and the
   * folder after it, so a rotated refresh token cannot be lost to a power cut.
   */
  async write(grant: StoredGrant): Promise<void> {
    const file = this.grantFile(grant.owner, grant.provider);
    const box = await this.open();
    try {
      await makeDirectoryDurable(path.dirname(file), 0o700);
      await writeFileAtomic(file, serializeGrant(grant, box), { mode: 0o600, fsync: true });
      await fsyncDirectory(path.dirname(file));
    } catch (error) {
      throw new CredentialStoreError('CREDENTIAL_STORE_WRITE_FAILED', `cannot write ${file}`, {
        cause: error,
      });
    }
  }

  /** Removes the grant; true when there was one. */
  async delete(owner: string, provider: string): Promise<boolean> {
    const file = this.grantFile(owner, provider);
    try {
      await unlink(file);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw new CredentialStoreError('CREDENTIAL_STORE_WRITE_FAILED', `cannot remove ${file}`, {
        cause: error,
      });
    }
  }

  /** The grant's lock, shared with every process that uses this data folder. */
  lock(owner: string, provider: string, signal: AbortSignal): Promise<HeldLock> {
    const lockPath = path.join(this.#ownerDir(owner), `${validateProviderName(provider)}.lock`);
    return acquireFileLock(lockPath, { signal, timeoutMs: this.#lockTimeoutMs, staleMs: this.#lockStaleMs });
  }

  /** Runs `work` holding the grant's lock. */
  async withLock<T>(
    owner: string,
    provider: string,
    signal: AbortSignal,
    work: () => Promise<T>,
  ): Promise<T> {
    const held = await this.lock(owner, provider, signal);
    try {
      return await work();
    } finally {
      await held.release();
    }
  }
}
