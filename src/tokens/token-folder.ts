import { chmod, chown, lstat, mkdir, readdir, unlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import { TokenFolderError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { fsyncDirectory, makeDirectoryDurable } from '../fs/fsync-directory.js';
import { readTextFile } from '../fs/read-text-file.js';
import { isOwnerId, isProviderName, validateOwnerId, validateProviderName } from '../names.js';
import {
  isSameToken,
  parseTokenFile,
  serializeTokenFile,
  TokenFileFormatError,
  type TokenFile,
} from './token-file.js';
import { TokenViews } from './token-views.js';

export const TOKEN_DIR_MODE = 0o750;
export const TOKEN_FILE_MODE = 0o640;
/** A write takes milliseconds: a temp file this old belongs to a writer that died. */
export const STALE_TEMP_FILE_MS = 60_000;
/** Temp files of a write in progress (see `writeFileAtomic`): `<provider>.json.<number>`. */
const TEMP_FILE_PATTERN = /^(.+)\.json\.\d+$/;

export type StoredToken =
  | { state: 'missing' }
  | { state: 'corrupt'; reason: string }
  | { state: 'present'; file: TokenFile; checkedAt: Date };

export type PresentToken = Extract<StoredToken, { state: 'present' }>;

/** What a write did, and what is stored now: what a `read` right after it would say. */
export interface TokenWrite {
  outcome: 'written' | 'unchanged';
  stored: PresentToken;
}

export interface TokenFolderOptions {
  /** Group that owns folders and files, so a container user in that group can read them. */
  group?: number | null;
}

/**
 * `data/tokens/<owner>/<provider>.json`: one folder per owner (mounted whole into that owner's
 * containers), atomic writes with fsync of the file and its folder, and no write when the token did
 * not change.
 */
export class TokenFolder {
  readonly #group: number | null;
  readonly #views: TokenViews;

  constructor(
    readonly root: string,
    options: TokenFolderOptions = {},
  ) {
    this.#group = options.group ?? null;
    this.#views = new TokenViews({ root, dirMode: TOKEN_DIR_MODE, group: this.#group });
  }

  ownerDir(owner: string): string {
    return path.join(this.root, validateOwnerId(owner));
  }

  filePath(owner: string, provider: string): string {
    return path.join(this.ownerDir(owner), `${validateProviderName(provider)}.json`);
  }

  /**
   * Creates the owner's folder with mode 0750 (whatever the umask) and returns its path. With a token
   * group, an existing folder is given that group and mode too. A folder that exists costs one lstat;
   * the root is made (and fsynced) only when the owner's folder is missing.
   */
  async ensureOwnerDir(owner: string): Promise<string> {
    const dir = this.ownerDir(owner);
    try {
      await this.#repairOwnerDir(dir);
      return dir;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    await makeDirectoryDurable(this.root, TOKEN_DIR_MODE);
    try {
      await mkdir(dir, { mode: TOKEN_DIR_MODE });
    } catch (error) {
      // Made by another writer since the lstat.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      await this.#repairOwnerDir(dir);
      return dir;
    }
    await chmod(dir, TOKEN_DIR_MODE);
    if (this.#group !== null) await chown(dir, process.getuid?.() ?? 0, this.#group);
    await fsyncDirectory(this.root);
    return dir;
  }

  /**
   * The folder a launch for `owner` mounts read-only at /workspace/tokens: only the files of
   * `providers`, kept live as they are written and removed (see `TokenViews`). Made or brought up to
   * date on each call; returns its host path.
   */
  async ensureView(owner: string, providers: readonly string[]): Promise<string> {
    const ownerDir = await this.ensureOwnerDir(owner);
    try {
      return await this.#views.ensure(owner, providers, ownerDir);
    } catch (error) {
      if (error instanceof TokenFolderError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      throw new TokenFolderError(
        'TOKEN_WRITE_FAILED',
        `cannot make the token view of ${owner}${code ? ` (${code})` : ''}`,
        { cause: error },
      );
    }
  }

  /**
   * A folder made before the token group was set, or by hand as root (group 0), keeps the skill user
   * out of its own tokens. Only what differs is changed, so the usual call costs one lstat.
   */
  async #repairOwnerDir(dir: string): Promise<void> {
    const info = await lstat(dir);
    // The folder is mounted into containers, and Docker follows a symlink on the host: only a real
    // folder may stand here (nor is a symlink chowned: that would change whatever it points at).
    if (!info.isDirectory()) {
      throw new TokenFolderError(
        'TOKEN_FOLDER_INVALID',
        `${dir} is not a folder (a symlink or a file): remove it, and nanoclaw makes the owner's folder again`,
      );
    }
    if (this.#group === null) return;
    if (info.gid !== this.#group) await chown(dir, info.uid, this.#group);
    if ((info.mode & 0o7777) !== TOKEN_DIR_MODE) await chmod(dir, TOKEN_DIR_MODE);
  }

  /** The token file as it is now: one open, fstat, read and close. */
  async read(owner: string, provider: string): Promise<StoredToken> {
    const file = this.filePath(owner, provider);
    let text: string;
    let modified: Date;
    try {
      ({ text, modifiedAt: modified } = await readTextFile(file));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
      throw new TokenFolderError('TOKEN_READ_FAILED', `cannot read ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    try {
      const parsed = parseTokenFile(text);
      if (parsed.provider !== provider)
        return { state: 'corrupt', reason: `provider: expected "${provider}"` };
      return { state: 'present', file: parsed, checkedAt: lastCheck(parsed, modified) };
    } catch (error) {
      if (error instanceof TokenFileFormatError) return { state: 'corrupt', reason: error.message };
      throw error;
    }
  }

  /**
   * Writes the token atomically (see `save`) and says whether it was written or found unchanged.
   */
  async write(owner: string, token: TokenFile, checkedAt: Date): Promise<'written' | 'unchanged'> {
    return (await this.save(owner, token, checkedAt)).outcome;
  }

  /**
   * Writes the token atomically and returns what is stored now, so that no read is needed after it.
   * An identical token is not rewritten; its file's modification time is moved to `checkedAt`
   * instead, which is when the source last confirmed it. Either way every view that declares the
   * provider shows the current file afterwards. Returns once the file and its folder are fsynced.
   */
  async save(owner: string, token: TokenFile, checkedAt: Date): Promise<TokenWrite> {
    const file = this.filePath(owner, token.provider);
    try {
      const current = await this.read(owner, token.provider);
      if (current.state === 'present' && isSameToken(current.file, token)) {
        await utimes(file, checkedAt, checkedAt);
        // A writer that died (or failed) between its rename and the linking left a view on the old
        // file, and no later write would differ: each write checks the views (one stat each).
        await this.#views.linkIntoViews(owner, token.provider, path.dirname(file));
        return {
          outcome: 'unchanged',
          stored: { state: 'present', file: current.file, checkedAt: lastCheck(current.file, checkedAt) },
        };
      }
      await this.ensureOwnerDir(owner);
      const { modifiedAt } = await writeFileAtomic(file, serializeTokenFile(token), {
        mode: TOKEN_FILE_MODE,
        owner: this.#group !== null ? { uid: process.getuid?.() ?? 0, gid: this.#group } : null,
      });
      await this.#views.linkIntoViews(owner, token.provider, path.dirname(file));
      return {
        outcome: 'written',
        stored: { state: 'present', file: { ...token }, checkedAt: lastCheck(token, modifiedAt) },
      };
    } catch (error) {
      if (error instanceof TokenFolderError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      throw new TokenFolderError('TOKEN_WRITE_FAILED', `cannot write ${file}${code ? ` (${code})` : ''}`, {
        cause: error,
      });
    }
  }

  /** Removes a token so skills ask for authorization; true when there was one. */
  async remove(owner: string, provider: string): Promise<boolean> {
    // Outside the try: a refused name is a usage error, not a failed write.
    const file = this.filePath(owner, provider);
    try {
      // Removal follows a symlinked folder as surely as a write would: the same refusal applies.
      if (!(await this.#isRealOwnerDir(path.dirname(file)))) return false;
      let removed = true;
      try {
        await unlink(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        removed = false;
      }
      await this.#views.unlinkFromViews(owner, provider);
      return removed;
    } catch (error) {
      if (error instanceof TokenFolderError) throw error;
      throw new TokenFolderError('TOKEN_WRITE_FAILED', `cannot remove the ${provider} token of ${owner}`, {
        cause: error,
      });
    }
  }

  /** False when the owner has no folder; throws when what stands there is not a real folder. */
  async #isRealOwnerDir(dir: string): Promise<boolean> {
    let info;
    try {
      info = await lstat(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
    if (!info.isDirectory()) {
      throw new TokenFolderError(
        'TOKEN_FOLDER_INVALID',
        `${dir} is not a folder (a symlink or a file): remove it, and nanoclaw makes the owner's folder again`,
      );
    }
    return true;
  }

  /** Owners that have a folder here; entries that are not valid owner ids are ignored. */
  async listOwners(): Promise<string[]> {
    try {
      const entries = await readdir(this.root, { withFileTypes: true });
      return entries
        .filter((entry) => entry.isDirectory() && isOwnerId(entry.name))
        .map((entry) => entry.name)
        .sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  /**
   * Providers with a token file in the owner's folder. Temp files a killed writer left behind are
   * removed on the way (see `#removeStaleTempFiles`).
   */
  async listProviders(owner: string): Promise<string[]> {
    const dir = this.ownerDir(owner);
    try {
      const entries = await readdir(dir, { withFileTypes: true });
      await this.#removeStaleTempFiles(
        dir,
        entries.filter((entry) => entry.isFile()).map((entry) => entry.name),
      );
      return entries
        .filter((entry) => entry.isFile() && entry.name.endsWith('.json'))
        .map((entry) => entry.name.slice(0, -'.json'.length))
        .filter(isProviderName)
        .sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  /**
   * A write removes its temp file when it fails, but not after SIGKILL, a crash or a power cut: such
   * files hold a token (or part of one), sit in the folder skills see, and pile up. Only those older
   * than a minute go; a newer one may be a live write's.
   */
  async #removeStaleTempFiles(dir: string, names: readonly string[]): Promise<void> {
    const tempFiles = names.filter((name) => isProviderName(TEMP_FILE_PATTERN.exec(name)?.[1] ?? ''));
    await Promise.all(
      tempFiles.map(async (name) => {
        const file = path.join(dir, name);
        try {
          const info = await lstat(file);
          if (info.isFile() && Date.now() - info.mtimeMs > STALE_TEMP_FILE_MS) await unlink(file);
        } catch {
          // Clean-up is best effort: a file already gone or a read-only folder must not fail the listing.
        }
      }),
    );
  }
}

/** The later of the sync time in the file and its modification time (moved on by each check). */
function lastCheck(file: TokenFile, modified: Date): Date {
  const synced = new Date(file.synced_at);
  return modified > synced ? modified : synced;
}
