import path from 'node:path';
import { validateOwnerId, validateProviderName } from '../../names.js';
import { FileGrantRecords } from '../../store/file/file-grant-records.js';
import type { HeldLock } from '../../store/file/file-lock.js';
import type { GrantRecord, GrantRecordStore } from '../../store/grant-records.js';
import { StoreError } from '../../store/store-errors.js';
import { CredentialStoreError } from './builtin-errors.js';
import { loadEncryptionKey } from './encryption-key.js';
import type { SecretBox } from './secret-box.js';
import { parseGrant, serializeGrant, type StoredGrant } from './stored-grant.js';

/**
 * Owner under which a client-credentials token is kept: it belongs to no user and is the same for
 * every owner. Owner ids cannot start with "_", so it never meets a real owner's folder.
 */
export const CLIENT_GRANT_OWNER = '_client';

export interface CredentialStoreOptions {
  /** `data/builtin`: the key file, and the grants when no other store is given. */
  dir: string;
  /** NANOCLAW_ENCRYPTION_KEY; null means the key file `<dir>/key`. */
  encryptionKey: string | null;
  /** Where the sealed grants are kept; files under `<dir>/grants` by default. */
  records?: GrantRecordStore;
  /** How long to wait for another process's refresh of the same grant (file store). */
  lockTimeoutMs?: number;
  lockStaleMs?: number;
}

/**
 * The built-in source's credentials: tokens sealed with AES-256-GCM on this host, then kept by a
 * grant store (files by default, PostgreSQL for many hosts), which never sees them in clear. Writes
 * are durable when they return, so a rotated refresh token cannot be lost to a power cut.
 */
export class CredentialStore {
  readonly dir: string;
  readonly records: GrantRecordStore;
  readonly #encryptionKey: string | null;
  #box: Promise<SecretBox> | null = null;

  constructor(options: CredentialStoreOptions) {
    this.dir = options.dir;
    this.#encryptionKey = options.encryptionKey;
    this.records =
      options.records ??
      new FileGrantRecords({
        dir: path.join(options.dir, 'grants'),
        ...(options.lockTimeoutMs !== undefined ? { lockTimeoutMs: options.lockTimeoutMs } : {}),
        ...(options.lockStaleMs !== undefined ? { lockStaleMs: options.lockStaleMs } : {}),
      });
  }

  static inDataDir(
    dataDir: string,
    encryptionKey: string | null,
    records?: GrantRecordStore,
  ): CredentialStore {
    return new CredentialStore({
      dir: path.join(dataDir, 'builtin'),
      encryptionKey,
      ...(records ? { records } : {}),
    });
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

  /** Where the grant is kept: its file with the file store. */
  grantFile(owner: string, provider: string): string {
    return this.records.where(this.#owner(owner), validateProviderName(provider));
  }

  #owner(owner: string): string {
    if (owner !== CLIENT_GRANT_OWNER) validateOwnerId(owner);
    return owner;
  }

  /** The grant, or null when there is none. An unreadable grant is an error, never "none". */
  read(owner: string, provider: string): Promise<StoredGrant | null> {
    return this.#open(owner, provider, () => this.records.read(owner, provider));
  }

  async #open(
    owner: string,
    provider: string,
    readText: () => Promise<string | null>,
  ): Promise<StoredGrant | null> {
    const file = this.grantFile(owner, provider);
    const box = await this.open();
    let text: string | null;
    try {
      text = await readText();
    } catch (error) {
      throw this.#storeFailure(error, 'CREDENTIAL_STORE_UNREADABLE', `cannot read ${file}`);
    }
    return text === null ? null : parseGrant(text, box, { owner, provider, file });
  }

  /**
   * Durable when it returns (fsynced, or committed). With `replacing` (the generation this write
   * replaces as it was read, null for none) the write is fenced: STORE_CONFLICT, and nothing
   * written, when the grant changed meanwhile.
   */
  write(grant: StoredGrant, replacing?: number | null): Promise<void> {
    return this.#seal(grant, (sealed) =>
      this.records.write(replacing !== undefined ? { ...sealed, expectedGeneration: replacing } : sealed),
    );
  }

  async #seal(grant: StoredGrant, write: (record: GrantRecord) => Promise<void>): Promise<void> {
    const file = this.grantFile(grant.owner, grant.provider);
    const box = await this.open();
    try {
      await write({
        owner: grant.owner,
        provider: grant.provider,
        text: serializeGrant(grant, box),
        generation: grant.generation,
      });
    } catch (error) {
      throw this.#storeFailure(error, 'CREDENTIAL_STORE_WRITE_FAILED', `cannot write ${file}`);
    }
  }

  /** Removes the grant; true when there was one. */
  async delete(owner: string, provider: string): Promise<boolean> {
    const file = this.grantFile(owner, provider);
    try {
      return await this.records.delete(owner, provider);
    } catch (error) {
      throw this.#storeFailure(error, 'CREDENTIAL_STORE_WRITE_FAILED', `cannot remove ${file}`);
    }
  }

  /**
   * A shared store that cannot be reached stays STORE_UNAVAILABLE (the source answers "unavailable"
   * and tries again), a fenced write that lost stays STORE_CONFLICT; everything else keeps the credential store's own codes.
   */
  #storeFailure(
    error: unknown,
    code: 'CREDENTIAL_STORE_UNREADABLE' | 'CREDENTIAL_STORE_WRITE_FAILED',
    message: string,
  ): Error {
    if (
      error instanceof StoreError &&
      (error.code === 'STORE_UNAVAILABLE' || error.code === 'STORE_CONFLICT')
    )
      return error;
    const detail = error instanceof StoreError ? error.message : message;
    return new CredentialStoreError(code, detail, { cause: error });
  }

  /** The grant's file lock (the file store only), for tests that hold it from outside. */
  lock(owner: string, provider: string, signal: AbortSignal): Promise<HeldLock> {
    if (!(this.records instanceof FileGrantRecords)) throw new Error('only the file store has lock files');
    return this.records.lock(this.#owner(owner), validateProviderName(provider), signal);
  }

  /**
   * Runs `work` holding the grant's lock, shared with every process that uses this store. Through
   * `lock`, it reads the grant as it stands under the lock (as `read` does, errors included) without
   * another trip to a store that read it with the lock, and makes its last write (fenced, as `write`
   * with `replacing`), which a store may commit with the lock's release.
   */
  withLock<T>(
    owner: string,
    provider: string,
    signal: AbortSignal,
    work: (lock: CredentialLock) => Promise<T>,
  ): Promise<T> {
    return this.records.withLock(this.#owner(owner), validateProviderName(provider), signal, (lock) =>
      work({
        read: () => this.#open(owner, provider, () => lock.read()),
        writeLast: (grant, replacing) =>
          this.#seal(grant, (sealed) => lock.writeLast({ ...sealed, expectedGeneration: replacing })),
      }),
    );
  }
}

/** A grant's lock while it is held, in the built-in source's terms (see `GrantLock`). */
export interface CredentialLock {
  /** The grant as it stands under the lock; null when there is none. */
  read(): Promise<StoredGrant | null>;
  /** The work's last write, fenced on `replacing`; nothing is read or written through the lock after it. */
  writeLast(grant: StoredGrant, replacing: number | null): Promise<void>;
}
