import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, open, readdir, realpath, rename, rm, utimes } from 'node:fs/promises';
import path from 'node:path';
import { checkOwnedPath } from './owned-folder.js';
import { SkillFilesError } from './sandbox-errors.js';
import { digestSkillFiles, readSkillFiles, SKILL_EXECUTABLE_MODE } from './skill-files.js';
import type { TarEntry } from './tar-archive.js';

/** Under the data folder: one folder per distinct content of a skill, named by its digest. */
export const SKILL_FILES_FOLDER = 'skill-files';
/** A snapshot no run has used for this long is removed when a new one is written. */
export const SNAPSHOT_MAX_IDLE_MS = 7 * 24 * 60 * 60 * 1000;
/** A use re-touches the folder's mtime only when it is older than this: one stat per warm run. */
const TOUCH_AFTER_MS = 60 * 60 * 1000;
/** A half-written snapshot of a writer that died is removed after this. */
const STALE_TEMP_MS = 60 * 60 * 1000;
const TEMP_PREFIX = '.tmp-';
/** Only nanoclaw's user enters the root: Docker binds a snapshot by path, and needs no one else to. */
const ROOT_MODE = 0o700;
const DIGEST = /^[0-9a-f]{64}$/;

export interface SkillSnapshotsOptions {
  /** The data folder (`dataDir`); snapshots go into `<dataDir>/skill-files/<digest>/`. */
  dataDir: string;
  /** The clock, for tests. */
  now?: () => number;
}

/**
 * Content-addressed copies of skill folders that only nanoclaw's user can change, for a read-only
 * bind at the skill's mount point. A skill's own folder is never bound: Docker resolves a bind's
 * path when the container starts, after any check of ours, and the skill's author could swap the
 * folder for a symbolic link in between. A snapshot's path is one nobody else can change.
 *
 * Each run reads the skill folder (no link followed) and digests it; a snapshot of that digest is
 * written once (into a temporary folder beside it, then renamed into place: a concurrent writer of
 * the same digest is harmless) and reused while the files stay the same. A snapshot unused for
 * SNAPSHOT_MAX_IDLE_MS is removed when another is written. (A run of another process taking up a
 * snapshot idle that long at the very moment it is removed would fail at create: Docker refuses a
 * bind of a missing folder; the next run writes it again.)
 */
export class SkillSnapshots {
  readonly #dataDir: string;
  readonly #now: () => number;
  /** The resolved root, checked once: only we and root could change it afterwards. */
  #root: Promise<string> | null = null;

  constructor(options: SkillSnapshotsOptions) {
    this.#dataDir = options.dataDir;
    this.#now = options.now ?? Date.now;
  }

  /** The host folder holding the skill's files as they are now, ready for a read-only bind. */
  async prepare(skillsDir: string, skill: string, signal?: AbortSignal): Promise<string> {
    const entries = await readSkillFiles(skillsDir, skill, signal);
    const digest = digestSkillFiles(entries);
    const root = await this.#ensureRoot();
    signal?.throwIfAborted();
    const folder = path.join(root, digest);
    if (await this.#reuse(folder)) return folder;
    try {
      await this.#write(root, digest, entries, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      // The snapshots folder was removed while we ran: made (and checked) again.
      this.#root = null;
      const again = await this.#ensureRoot();
      await this.#write(again, digest, entries, signal);
      return path.join(again, digest);
    }
    await this.prune(signal).catch(() => undefined);
    return folder;
  }

  /** Removes snapshots unused for SNAPSHOT_MAX_IDLE_MS and temporary folders of dead writers. */
  async prune(signal?: AbortSignal): Promise<string[]> {
    const root = await this.#ensureRoot();
    const now = this.#now();
    const removed: string[] = [];
    for (const name of await readdir(root)) {
      signal?.throwIfAborted();
      const temp = name.startsWith(TEMP_PREFIX);
      if (!temp && !DIGEST.test(name)) continue;
      const info = await lstat(path.join(root, name)).catch(() => null);
      if (info === null || !info.isDirectory()) continue;
      if (now - info.mtimeMs <= (temp ? STALE_TEMP_MS : SNAPSHOT_MAX_IDLE_MS)) continue;
      await rm(path.join(root, name), { recursive: true, force: true });
      removed.push(name);
    }
    return removed;
  }

  #ensureRoot(): Promise<string> {
    this.#root ??= this.#makeRoot().catch((error: unknown) => {
      this.#root = null;
      throw error;
    });
    return this.#root;
  }

  async #makeRoot(): Promise<string> {
    await mkdir(this.#dataDir, { recursive: true, mode: 0o750 });
    // The operator's own path may go through links; Docker is given the resolved one.
    const dataDir = await realpath(this.#dataDir);
    const root = path.join(dataDir, SKILL_FILES_FOLDER);
    await mkdir(root, { mode: ROOT_MODE }).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    });
    await checkOwnedPath(root, [root]);
    return root;
  }

  /** True when the snapshot is there (and is marked as used now); false when it must be written. */
  async #reuse(folder: string): Promise<boolean> {
    const info = await lstat(folder).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    });
    if (info === null) return false;
    if (!info.isDirectory() || info.uid !== (process.getuid?.() ?? 0) || (info.mode & 0o022) !== 0) {
      throw new SkillFilesError(`${folder} is not a snapshot folder nanoclaw wrote`);
    }
    const now = this.#now();
    if (now - info.mtimeMs < TOUCH_AFTER_MS) return true;
    try {
      await utimes(folder, now / 1000, now / 1000);
      return true;
    } catch (error) {
      // Pruned between the look and the touch: written again.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  async #write(root: string, digest: string, entries: readonly TarEntry[], signal?: AbortSignal) {
    const temp = path.join(root, `${TEMP_PREFIX}${digest.slice(0, 16)}-${randomBytes(6).toString('hex')}`);
    await mkdir(temp, { mode: ROOT_MODE });
    try {
      for (const entry of entries) {
        signal?.throwIfAborted();
        const target = path.join(temp, entry.path);
        if (entry.content === null) {
          await mkdir(target, { mode: SKILL_EXECUTABLE_MODE });
          await chmod(target, SKILL_EXECUTABLE_MODE);
        } else {
          const file = await open(target, 'wx', entry.mode);
          try {
            await file.writeFile(entry.content);
            // The umask may have taken bits away.
            await file.chmod(entry.mode);
          } finally {
            await file.close();
          }
        }
      }
      await chmod(temp, SKILL_EXECUTABLE_MODE);
      await rename(temp, path.join(root, digest)).catch((error: unknown) => {
        const code = (error as NodeJS.ErrnoException).code;
        // Another writer put the same files there first.
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      });
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
  }
}
