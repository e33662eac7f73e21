import { constants, existsSync } from 'node:fs';
import { lstat, open, readdir, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { readAtMost } from './bounded-read.js';
import { SkillFilesError } from './sandbox-errors.js';
import type { TarEntry } from './tar-archive.js';

/** Same exclusions as .dockerignore: caches that only make builds and runs differ. */
const IGNORED_NAMES = new Set(['__pycache__', '.DS_Store']);
const IGNORED_SUFFIXES = ['.pyc'];

/**
 * On Linux, `/proc/self/fd/<fd>/<name>` resolves `name` inside the folder the descriptor holds, like
 * openat(2): a folder swapped for a symlink after it was opened changes nothing. Elsewhere the walk
 * goes by path (still refusing every symlink it sees, but a swap between look and open could win).
 */
const FD_PATHS = existsSync('/proc/self/fd');
const OPEN_FOLDER = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
// O_NONBLOCK: a FIFO that replaced a file between look and open must not block the walk.
const OPEN_FILE = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
/** Each level below the top keeps one folder open while it is read: deep nesting would use up handles. */
export const MAX_SNAPSHOT_DEPTH = 32;
/** Files, folders and everything else a tree may name (links and FIFOs count though left out). */
export const MAX_SNAPSHOT_ENTRIES = 10_000;

export interface SnapshotOptions {
  /** Prefix of every entry's path in the result (e.g. `skills/`); empty for none. */
  prefix: string;
  /** The whole tree may hold at most this many bytes of files. */
  maxBytes: number;
  /** How many folder levels below the top one; MAX_SNAPSHOT_DEPTH unless given. */
  maxDepth?: number;
  /** How many names the whole tree may hold; MAX_SNAPSHOT_ENTRIES unless given. */
  maxEntries?: number;
  signal?: AbortSignal;
}

interface WalkState {
  entries: TarEntry[];
  bytes: number;
  names: number;
  readonly options: SnapshotOptions;
  readonly top: string;
}

/**
 * Reads a folder tree into tar entries without following any symbolic link, at any depth: links are
 * left out, and so are FIFOs, sockets and devices. A folder that is itself a symlink is refused.
 */
export async function snapshotFolder(dir: string, options: SnapshotOptions): Promise<TarEntry[]> {
  const state: WalkState = { entries: [], bytes: 0, names: 0, options, top: dir };
  const handle = await openFolder(dir);
  try {
    await walk(handle, dir, options.prefix, 0, state);
  } finally {
    await handle.close();
  }
  return state.entries;
}

async function openFolder(dir: string): Promise<FileHandle> {
  try {
    return await open(dir, OPEN_FOLDER);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR') {
      throw new SkillFilesError(`${dir} is not a real folder (a symbolic link or a file)`, { cause: error });
    }
    throw error;
  }
}

async function walk(
  folder: FileHandle,
  shownAs: string,
  prefix: string,
  depth: number,
  state: WalkState,
): Promise<void> {
  const { options } = state;
  const base = FD_PATHS ? `/proc/self/fd/${folder.fd}` : shownAs;
  const names = (await readdir(base))
    .filter((name) => !IGNORED_NAMES.has(name) && !IGNORED_SUFFIXES.some((suffix) => name.endsWith(suffix)))
    .sort();
  // Counted before any is opened: a folder of a million names costs one listing, not a million opens.
  state.names += names.length;
  const maxEntries = options.maxEntries ?? MAX_SNAPSHOT_ENTRIES;
  if (state.names > maxEntries) {
    throw new SkillFilesError(`${state.top} holds more than ${maxEntries} entries (files and folders)`);
  }
  for (const name of names) {
    options.signal?.throwIfAborted();
    const full = path.join(base, name);
    const info = await lstat(full).catch(() => null);
    if (info === null) continue;
    if (info.isDirectory()) {
      const maxDepth = options.maxDepth ?? MAX_SNAPSHOT_DEPTH;
      if (depth + 1 > maxDepth) {
        throw new SkillFilesError(
          `${path.join(shownAs, name)} is nested more than ${maxDepth} levels deep in ${state.top}`,
        );
      }
      const child = await open(full, OPEN_FOLDER).catch(() => null);
      if (child === null) continue;
      try {
        const opened = await child.stat();
        if (!opened.isDirectory()) continue;
        state.entries.push({ path: `${prefix}${name}/`, mode: opened.mode, content: null });
        await walk(child, path.join(shownAs, name), `${prefix}${name}/`, depth + 1, state);
      } finally {
        await child.close();
      }
    } else if (info.isFile()) {
      const file = await open(full, OPEN_FILE).catch(() => null);
      if (file === null) continue;
      try {
        const opened = await file.stat();
        if (!opened.isFile()) continue;
        const remaining = options.maxBytes - state.bytes;
        // The size was checked, but the file may grow before or while it is read: the read is bounded.
        const content = opened.size > remaining ? null : await readAtMost(file, remaining, opened.size);
        if (content === null) {
          throw new SkillFilesError(
            `${shownAs} holds more than ${Math.round(options.maxBytes / 1024 / 1024)} MiB of files`,
          );
        }
        state.bytes += content.length;
        state.entries.push({ path: `${prefix}${name}`, mode: opened.mode, content });
      } finally {
        await file.close();
      }
    }
    // Symbolic links could point anywhere on the host; they (and FIFOs, sockets, devices) are left out.
  }
}
