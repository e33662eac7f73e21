import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import Module from 'node:module';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';

type Compile = (this: Module, content: string, filename: string) => unknown;
type Wrapper = (
  exports: unknown,
  require: NodeJS.Require,
  module: Module,
  filename: string,
  dirname: string,
) => unknown;

/**
 * V8's code cache for the CommonJS files in one folder (the CLI's bundles): each file is compiled
 * with the code V8 compiled for it in an earlier process, and when there was none (or V8 refused it),
 * the code compiled by the end of this process is stored for the next one. That is more than Node's
 * own compile cache keeps (the code compiled before the file ran), and Node 20 has none at all.
 *
 * The cache lives in a folder of this user's only (`$XDG_CACHE_HOME/nanoclaw/v8`, else
 * `<tmpdir>/nanoclaw-compile-cache-<uid>`): a folder someone else owns, or that others may write to,
 * is never used. An entry is named after the file's path, size, times and inode and Node's version
 * (a rebuilt or edited file gets a new one, and the old one goes), and written atomically. Whatever
 * fails only means compiling as usual.
 *
 * Returns what undoes it (for tests: the CLI keeps it for the life of the process).
 */
export function useCodeCache(bundleDir: string, env: NodeJS.ProcessEnv = process.env): () => void {
  const cacheDir = ownCacheDir(env);
  if (cacheDir === null) return () => {};
  const prefix = bundleDir + path.sep;
  const proto = Module.prototype as unknown as { _compile: Compile };
  const original = proto._compile;
  const pending = new Map<string, { script: vm.Script; stale: string }>();
  const storePending = () => {
    for (const [entry, { script, stale }] of pending) store(cacheDir, entry, script, stale);
    pending.clear();
  };
  proto._compile = function compileWithCache(this: Module, content: string, filename: string) {
    if (!filename.startsWith(prefix)) return original.call(this, content, filename);
    const names = entryNames(filename, content);
    if (names === null) return original.call(this, content, filename);
    let cachedData: Buffer | undefined;
    try {
      cachedData = readFileSync(path.join(cacheDir, names.entry));
    } catch {
      cachedData = undefined;
    }
    const script = new vm.Script(Module.wrap(content), {
      filename,
      ...(cachedData ? { cachedData } : {}),
    });
    const wrapper = script.runInThisContext({ displayErrors: true }) as Wrapper;
    if (cachedData === undefined || script.cachedDataRejected === true) {
      pending.set(names.entry, { script, stale: names.stale });
    }
    return wrapper.call(
      this.exports,
      this.exports,
      Module.createRequire(filename),
      this,
      filename,
      path.dirname(filename),
    );
  };
  // At the end: the functions the command ran are compiled by then, and go into the entry too.
  process.on('exit', storePending);
  return () => {
    proto._compile = original;
    process.off('exit', storePending);
    storePending();
  };
}

/** The entry's name, and the start that entries of older versions of the same file share. */
function entryNames(filename: string, content: string): { entry: string; stale: string } | null {
  try {
    const file = statSync(filename, { bigint: true });
    const stale = `${path.basename(filename, '.cjs')}-${fnv1a(`${process.version}\0${process.arch}\0${filename}`)}-`;
    const version = [content.length, file.size, file.mtimeNs, file.ctimeNs, file.ino]
      .map((value) => value.toString(36))
      .join('-');
    return { entry: `${stale}${version}.v8`, stale };
  } catch {
    return null;
  }
}

/** FNV-1a, 32 bits, in base 36: the Node and the file's path, in an entry's name. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193) >>> 0;
  }
  return hash.toString(36);
}

function ownCacheDir(env: NodeJS.ProcessEnv): string | null {
  const uid = process.getuid?.();
  const dir = env.XDG_CACHE_HOME
    ? path.join(env.XDG_CACHE_HOME, 'nanoclaw', 'v8')
    : uid === undefined
      ? null
      : path.join(os.tmpdir(), `nanoclaw-compile-cache-${uid}`);
  if (dir === null) return null;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stats = lstatSync(dir);
    // Entries run as our code: never from a folder (or a link to one) that someone else could write.
    if (!stats.isDirectory() || (uid !== undefined && stats.uid !== uid) || (stats.mode & 0o022) !== 0) {
      return null;
    }
    return dir;
  } catch {
    return null;
  }
}

function store(cacheDir: string, entry: string, script: vm.Script, stale: string): void {
  const target = path.join(cacheDir, entry);
  const temporary = `${target}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, script.createCachedData(), { mode: 0o600, flag: 'wx' });
    renameSync(temporary, target);
  } catch {
    try {
      unlinkSync(temporary);
    } catch {
      // Nothing was written.
    }
    return;
  }
  try {
    for (const name of readdirSync(cacheDir)) {
      if (name.startsWith(stale) && name !== entry && name.endsWith('.v8'))
        unlinkSync(path.join(cacheDir, name));
    }
  } catch {
    // Another process removed it first; an old entry left behind is only disk space.
  }
}
