import { constants, existsSync } from 'node:fs';
import { lstat, open, readdir, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
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

export interface SnapshotOptions {
  /** Prefix of every entry's path in the result (e.g. `skills/`); empty for none. */
  prefix: string;
  /** The whole tree may hold at most this many bytes of files. */
  maxBytes: number;
  signal?: AbortSignal;
}

/**
 * Reads a folder tree into tar entries without following any symbolic link, at any depth: links are
 * left out, and so are FIFOs, sockets and devices. A folder that is itself a symlink is refused.
 */
export async function snapshotFolder(dir: string, options: SnapshotOptions): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  const total = { bytes: 0 };
  const handle = await openFolder(dir);
  try {
    await walk(handle, dir, options.prefix, entries, total, options);
  } finally {
    await handle.close();
  }
  return entries;
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
  entries: TarEntry[],
  total: { bytes: number },
  options: SnapshotOptions,
): Promise<void> {
  const base = FD_PATHS ? `/proc/self/fd/${folder.fd}` : shownAs;
  const names = (await readdir(base)).sort();
  for (const name of names) {
    options.signal?.throwIfAborted();
    if (IGNORED_NAMES.has(name) || IGNORED_SUFFIXES.some((suffix) => name.endsWith(suffix))) continue;
    const full = path.join(base, name);
    const info = await lstat(full).catch(() => null);
    if (info === null) continue;
    if (info.isDirectory()) {
      const child = await open(full, OPEN_FOLDER).catch(() => null);
      if (child === null) continue;
      try {
        const opened = await child.stat();
        if (!opened.isDirectory()) continue;
        entries.push({ path: `${prefix}${name}/`, mode: opened.mode, content: null });
        await walk(child, path.join(shownAs, name), `${prefix}${name}/`, entries, total, options);
      } finally {
        await child.close();
      }
    } else if (info.isFile()) {
      const file = await open(full, OPEN_FILE).catch(() => null);
      if (file === null) continue;
      try {
        const opened = await file.stat();
        if (!opened.isFile()) continue;
        total.bytes += opened.size;
        if (total.bytes > options.maxBytes) {
          throw new SkillFilesError(
            `${shownAs} holds more than ${Math.round(options.maxBytes / 1024 / 1024)} MiB of files`,
          );
        }
        const content = await file.readFile();
        entries.push({ path: `${prefix}${name}`, mode: opened.mode, content });
      } finally {
        await file.close();
      }
    }
    // Symbolic links could point anywhere on the host; they (and FIFOs, sockets, devices) are left out.
  }
}
