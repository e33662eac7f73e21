import { createHash, randomBytes } from 'node:crypto';
import {
  chmod,
  chown,
  copyFile,
  link,
  lstat,
  mkdir,
  readdir,
  readFile,
  rename,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { TokenFolderError } from '../errors.js';
import { isProviderName, validateOwnerId, validateProviderName } from '../names.js';

/**
 * The views' folder under the token root. Owner ids never start with a dot, so it is never taken for
 * an owner (status, the token watcher and `listOwners` skip it).
 */
export const VIEWS_FOLDER = '.views';
const PROVIDERS_SUFFIX = '.providers';
/** Linking may race with another writer; after this many rounds the last writer's own check wins. */
const MAX_LINK_ROUNDS = 5;

export interface TokenViewsOptions {
  root: string;
  /** Mode of the view folders (that of an owner folder). */
  dirMode: number;
  group: number | null;
}

/**
 * Per-launch views of an owner's token folder: `<root>/.views/<owner>/<key>/` holds hard links to
 * the owner's files of the declared providers only, so a container that mounts the view (read-only,
 * as a folder) sees those providers and no other. The token folder links every new file into the
 * views that declare its provider (a link under a temp name, then a rename: never torn, never copied)
 * and unlinks it on removal, so a running container reads each refresh. A view's provider list sits
 * beside it (`<key>.providers`), outside what the container sees, so any process writing the same
 * root (`serve`, `sync`) finds the views on disk.
 */
export class TokenViews {
  readonly #options: TokenViewsOptions;

  constructor(options: TokenViewsOptions) {
    this.#options = options;
  }

  get #viewsRoot(): string {
    return path.join(this.#options.root, VIEWS_FOLDER);
  }

  #ownerViews(owner: string): string {
    return path.join(this.#viewsRoot, validateOwnerId(owner));
  }

  /** The view folder for (owner, providers), whatever the providers' order. */
  viewDir(owner: string, providers: readonly string[]): string {
    return path.join(this.#ownerViews(owner), viewKey(providers));
  }

  /**
   * Makes (or brings up to date) the view of `providers` for `owner` and returns its host path: the
   * folder to mount read-only at /workspace/tokens.
   */
  async ensure(owner: string, providers: readonly string[], ownerDir: string): Promise<string> {
    const names = normalizeProviders(providers);
    const ownerViews = this.#ownerViews(owner);
    const key = viewKey(names);
    const view = path.join(ownerViews, key);
    await this.#ensureFolder(this.#viewsRoot);
    await this.#ensureFolder(ownerViews);
    // The provider list goes first: a writer that lands after this sees the view and links into it.
    await this.#writeProviderList(path.join(ownerViews, `${key}${PROVIDERS_SUFFIX}`), names);
    await this.#ensureFolder(view);
    await this.#matchGroup(view, ownerDir);
    await Promise.all(names.map((provider) => this.#sync(ownerDir, ownerViews, view, provider)));
    return view;
  }

  /**
   * After a write of `<owner>/<provider>.json` (or a check that it is unchanged): every view of the
   * owner that declares it shows it. A view that already holds the file costs one stat.
   */
  async linkIntoViews(owner: string, provider: string, ownerDir: string): Promise<void> {
    const ownerViews = this.#ownerViews(owner);
    const views = await this.#viewsDeclaring(ownerViews, provider);
    if (views.length === 0) return;
    const current = await statOrNull(path.join(ownerDir, `${provider}.json`));
    await Promise.all(
      views.map(async (view) => {
        if (current !== null) {
          const shown = await statOrNull(path.join(view, `${provider}.json`));
          if (shown !== null && shown.ino === current.ino && shown.dev === current.dev) return;
        }
        await this.#sync(ownerDir, ownerViews, view, provider);
      }),
    );
  }

  /** After a removal: the provider's file leaves every view of the owner. */
  async unlinkFromViews(owner: string, provider: string): Promise<void> {
    const ownerViews = this.#ownerViews(owner);
    const entries = await readdirOrEmpty(ownerViews);
    await Promise.all(
      entries
        .filter((entry) => entry.isDirectory())
        .map((entry) => unlinkIfPresent(path.join(ownerViews, entry.name, `${provider}.json`))),
    );
  }

  async #viewsDeclaring(ownerViews: string, provider: string): Promise<string[]> {
    const entries = await readdirOrEmpty(ownerViews);
    const lists = entries.filter((entry) => entry.isFile() && entry.name.endsWith(PROVIDERS_SUFFIX));
    const declaring = await Promise.all(
      lists.map(async (entry) => {
        const providers = await readProviderList(path.join(ownerViews, entry.name));
        return providers.includes(provider)
          ? path.join(ownerViews, entry.name.slice(0, -PROVIDERS_SUFFIX.length))
          : null;
      }),
    );
    return declaring.filter((view): view is string => view !== null);
  }

  /**
   * Makes `<view>/<provider>.json` the same file as `<ownerDir>/<provider>.json`, or absent when that
   * is absent. Another process may write the same file meanwhile: whoever renames into the view
   * checks afterwards that it shows the current file, and goes again if not.
   */
  async #sync(ownerDir: string, ownerViews: string, view: string, provider: string): Promise<void> {
    const source = path.join(ownerDir, `${provider}.json`);
    const target = path.join(view, `${provider}.json`);
    for (let round = 0; round < MAX_LINK_ROUNDS; round += 1) {
      const [current, shown] = await Promise.all([statOrNull(source), statOrNull(target)]);
      if (current === null) {
        if (shown === null) return;
        await unlinkIfPresent(target);
        continue;
      }
      if (shown !== null && shown.ino === current.ino && shown.dev === current.dev) return;
      // The temp name sits beside the view, not in it: a container never sees a half-made entry.
      const temp = path.join(ownerViews, `.${provider}.json.${randomBytes(6).toString('hex')}`);
      try {
        await linkOrCopy(source, temp);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      try {
        await rename(temp, target);
      } catch (error) {
        await unlinkIfPresent(temp);
        throw error;
      }
    }
  }

  /** A real folder with the owner folders' mode and group; a symlink here is refused, never followed. */
  async #ensureFolder(dir: string): Promise<void> {
    try {
      await mkdir(dir, { mode: this.#options.dirMode });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const info = await lstat(dir);
      if (!info.isDirectory()) {
        throw new TokenFolderError(
          'TOKEN_FOLDER_INVALID',
          `${dir} is not a folder (a symlink or a file): remove it, and nanoclaw makes it again`,
        );
      }
      return;
    }
    await chmod(dir, this.#options.dirMode);
    if (this.#options.group !== null) await chown(dir, process.getuid?.() ?? 0, this.#options.group);
  }

  /**
   * The view takes the owner folder's group (set by the token group, or by hand): that is the group a
   * skill is given to read its tokens, and it must be able to open the view too.
   */
  async #matchGroup(view: string, ownerDir: string): Promise<void> {
    const [viewInfo, ownerInfo] = await Promise.all([lstat(view), stat(ownerDir)]);
    if (viewInfo.gid === ownerInfo.gid) return;
    try {
      await chown(view, viewInfo.uid, ownerInfo.gid);
    } catch (error) {
      // Not ours to hand out (we are neither root nor in that group): the folder keeps our group.
      if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
    }
  }

  /**
   * The list of a key never changes, so a whole one is left as it is. It is written under a temp name
   * and renamed into place, never torn; one a crash left torn anyway (before lists were written so)
   * is made whole again, since a torn list would keep its view from every later write.
   */
  async #writeProviderList(file: string, providers: readonly string[]): Promise<void> {
    const content = `${JSON.stringify(providers)}\n`;
    try {
      if ((await readFile(file, 'utf8')) === content) return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    // The temp name starts with a dot: never taken for a list (nor a view) by `#viewsDeclaring`.
    const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}`);
    try {
      await writeFile(temp, content, { flag: 'wx', mode: 0o640 });
      await rename(temp, file);
    } catch (error) {
      await unlinkIfPresent(temp);
      throw error;
    }
  }
}

/** Sorted, unique, validated provider names. */
function normalizeProviders(providers: readonly string[]): string[] {
  return [...new Set(providers.map((provider) => validateProviderName(provider)))].sort();
}

/** A short, stable name for a provider set (owner ids never start with a dot; keys never do either). */
export function viewKey(providers: readonly string[]): string {
  const names = normalizeProviders(providers);
  return createHash('sha256').update(names.join('\n')).digest('hex').slice(0, 24);
}

async function readProviderList(file: string): Promise<string[]> {
  try {
    const value: unknown = JSON.parse(await readFile(file, 'utf8'));
    return Array.isArray(value) ? value.filter((name): name is string => isProviderName(String(name))) : [];
  } catch {
    // A list being written right now, or damaged by hand: that view is skipped, never guessed at.
    return [];
  }
}

async function readdirOrEmpty(dir: string) {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

async function statOrNull(file: string) {
  try {
    return await stat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

async function unlinkIfPresent(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** A hard link; a copy only where the file system has none (the rename after it keeps it atomic). */
async function linkOrCopy(source: string, temp: string): Promise<void> {
  try {
    await link(source, temp);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EMLINK') throw error;
    await copyFile(source, temp);
  }
}
