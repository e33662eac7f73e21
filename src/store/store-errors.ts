import { NanoclawError } from '../errors.js';

export type StoreErrorCode =
  /** A record exists and cannot be read (damaged file, unexpected row). */
  | 'STORE_UNREADABLE'
  /** A write did not happen; what was stored before is still there. */
  | 'STORE_WRITE_FAILED'
  /** The shared store (PostgreSQL) cannot be reached, or refused us; nothing was changed. */
  | 'STORE_UNAVAILABLE'
  /** A fenced write found the record changed since the writer read it (another host wrote first): nothing was written. */
  | 'STORE_CONFLICT'
  /** The shared store's schema is newer than this version of nanoclaw knows: upgrade the hosts. */
  | 'STORE_SCHEMA_NEWER';

/** The store failed. Messages name where (a file, or PostgreSQL's host and database), never a password. */
export class StoreError extends NanoclawError {
  constructor(code: StoreErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
  }
}

/** Another process (on this host or another) held a grant's lock for longer than we wait. */
export class LockTimeoutError extends NanoclawError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('LOCK_TIMEOUT', message, options);
  }
}
