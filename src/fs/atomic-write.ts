import { randomInt } from 'node:crypto';
import type { Stats } from 'node:fs';
import { lstat, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { fsyncDirectory } from './fsync-directory.js';

export interface AtomicWriteOptions {
  /** The file's mode, whatever the umask. */
  mode: number;
  /**
   * Owner and group for the file (e.g. a group that may read it); `'keep'` gives it those of the file
   * it replaces (one more stat), so that a run as root does not take a service user's file from it.
   * The process's own when absent.
   */
  owner?: FileOwner | 'keep' | null;
  /** Checked before the file is created and before it is renamed into place. */
  signal?: AbortSignal;
}

export interface FileOwner {
  uid: number;
  gid: number;
}

/** The replacement that now stands at the path. */
export interface AtomicWriteResult {
  /** The file's modification time, as a later `stat` reports it. */
  modifiedAt: Date;
}

/** A write that stored nothing however often it was asked to go on: a file system gone wrong. */
export class ShortWriteError extends Error {
  override name = 'ShortWriteError';
  readonly code = 'EIO';
}

/** Attempts at a temp name nobody holds (a killed writer's leftover may hold one). */
const TEMP_NAME_ATTEMPTS = 5;

/** Writes in progress per absolute path: a later write to a path starts once the earlier has settled. */
const pending = new Map<string, Promise<unknown>>();

/**
 * Replaces `file` so that a reader sees the old content or the new, never part of either, and the new
 * content survives a power cut once this returns: a temp file `<file>.<number>` beside it (created
 * exclusively, never through a symlink), written, fsynced, renamed over `file`, then the folder
 * fsynced. Mode and owner are set through the open handle, and only where the new file lacks them.
 * On any failure before the rename the temp file is removed and `file` is left as it was.
 *
 * Writes to the same path from this process land in the order they were asked for.
 */
export function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions,
): Promise<AtomicWriteResult> {
  const key = path.resolve(file);
  const previous = pending.get(key) ?? Promise.resolve();
  const write = previous.then(() => replaceFile(key, data, options));
  const settled = write.then(
    () => {},
    () => {},
  );
  pending.set(key, settled);
  void settled.then(() => {
    if (pending.get(key) === settled) pending.delete(key);
  });
  return write;
}

async function replaceFile(
  file: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions,
): Promise<AtomicWriteResult> {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  options.signal?.throwIfAborted();
  const owner = options.owner === 'keep' ? await ownerOf(file) : (options.owner ?? null);
  const { handle, temp } = await createTempFile(file, options.mode);
  let modifiedAt: Date;
  try {
    try {
      modifiedAt = await fillTempFile(handle, bytes, options.mode, owner);
    } catch (error) {
      await handle.close().catch(() => {});
      throw error;
    }
    await handle.close();
    options.signal?.throwIfAborted();
    await rename(temp, file);
  } catch (error) {
    // Best effort: in a folder turned read-only the removal fails too; a clean-up of stale temp
    // files (the token folder's) takes over.
    await unlink(temp).catch(() => {});
    throw error;
  }
  await fsyncDirectory(path.dirname(file));
  return { modifiedAt };
}

async function createTempFile(file: string, mode: number): Promise<{ handle: FileHandle; temp: string }> {
  for (let attempt = 1; ; attempt += 1) {
    const temp = `${file}.${randomInt(0, 2 ** 32)}`;
    try {
      // 'wx': O_CREAT | O_EXCL, which fails on anything already there, a symlink included.
      return { handle: await open(temp, 'wx', mode), temp };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt === TEMP_NAME_ATTEMPTS) throw error;
    }
  }
}

/**
 * The owner of the regular file at `file` now; null when there is none. A symlink standing there is
 * replaced, not written through, so what it points at lends no owner.
 */
async function ownerOf(file: string): Promise<FileOwner | null> {
  try {
    const info = await lstat(file);
    if (!info.isFile()) return null;
    return { uid: info.uid, gid: info.gid };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Data, then mode and owner where the umask or the folder left them different, then fsync. */
async function fillTempFile(
  handle: FileHandle,
  bytes: Uint8Array,
  mode: number,
  owner: FileOwner | null,
): Promise<Date> {
  for (let offset = 0; offset < bytes.length;) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset, offset);
    if (bytesWritten === 0) throw new ShortWriteError(`wrote ${offset} of ${bytes.length} bytes`);
    offset += bytesWritten;
  }
  // One fstat tells whether chmod and chown are needed at all, and gives the modification time.
  const info: Stats = await handle.stat();
  // chown may clear mode bits, so it goes first.
  if (owner && (info.uid !== owner.uid || info.gid !== owner.gid)) {
    await tolerateUnsupported(handle.chown(owner.uid, owner.gid));
  }
  if ((info.mode & 0o7777) !== mode) await tolerateUnsupported(handle.chmod(mode));
  await handle.sync();
  return info.mtime;
}

/**
 * A file system without ownership (ENOSYS), or one a non-root process may not re-own (EPERM, EINVAL),
 * keeps the file as created: with a mode no looser than asked, since the umask only removes bits.
 */
async function tolerateUnsupported(change: Promise<void>): Promise<void> {
  try {
    await change;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOSYS') return;
    if (process.getuid?.() !== 0 && (code === 'EPERM' || code === 'EINVAL')) return;
    throw error;
  }
}
