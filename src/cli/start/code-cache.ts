import { lstatSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';

/**
 * V8's code cache for the CommonJS bundles in one folder, for Node versions without
 * `module.enableCompileCache` (Node 20): each file is compiled with the code V8 compiled for it the
 * last time, and after its first run the code compiled by then is stored for the next process. The
 * cache lives in a folder of this user's only (`$XDG_CACHE_HOME/nanoclaw/v8`, else
 * `<tmpdir>/nanoclaw-compile-cache-<uid>`), keyed by the file's content and Node's version; entries
 * are written atomically. Whatever fails (an unwritable or foreign folder, a rejected entry) only
 * means compiling as usual.
 */
export function useCodeCache(bundleDir: string, env: NodeJS.ProcessEnv = process.env): void {
  const cacheDir = ownCacheDir(env);
  if (cacheDir === null) return;
  const prefix = bundleDir + path.sep;
  type Compile = (this: Module, content: string, filename: string) => unknown;
  const proto = Module.prototype as unknown as { _compile: Compile };
  const original = proto._compile;
  proto._compile = function compileWithCache(this: Module, content: string, filename: string) {
    if (!filename.startsWith(prefix)) return original.call(this, content, filename);
    // The file as it is on disk (its size, times and inode: a rebuilt or edited file gets a new
    // entry) for this Node: cheaper than hashing megabytes of source on every start.
    let key: string;
    try {
      const file = statSync(filename, { bigint: true });
      key = [
        path.basename(filename, '.cjs'),
        fnv1a(`${process.version}\0${process.arch}\0${filename}`),
        content.length.toString(36),
        file.size.toString(36),
        file.mtimeNs.toString(36),
        file.ctimeNs.toString(36),
        file.ino.toString(36),
      ].join('-');
    } catch {
      return original.call(this, content, filename);
    }
    const entry = path.join(cacheDir, `${key}.v8`);
    let cachedData: Buffer | undefined;
    try {
      cachedData = readFileSync(entry);
    } catch {
      cachedData = undefined;
    }
    const script = new vm.Script(Module.wrap(content), {
      filename,
      ...(cachedData ? { cachedData } : {}),
    });
    const wrapper = script.runInThisContext({ displayErrors: true }) as (
      exports: unknown,
      require: NodeJS.Require,
      module: Module,
      filename: string,
      dirname: string,
    ) => unknown;
    const require = Module.createRequire(filename);
    const result = wrapper.call(this.exports, this.exports, require, this, filename, path.dirname(filename));
    if (cachedData === undefined || script.cachedDataRejected === true) {
      // After the run: the functions it compiled go into the cache too.
      process.once('exit', () => store(entry, script));
    }
    return result;
  };
}

/** FNV-1a, 32 bits, in base 36: names the Node and the file's path in an entry's name. */
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
    // A folder someone else made (or a link to one) is never read: its entries would run as our code.
    if (!stats.isDirectory() || (uid !== undefined && stats.uid !== uid) || (stats.mode & 0o022) !== 0) {
      return null;
    }
    return dir;
  } catch {
    return null;
  }
}

function store(entry: string, script: vm.Script): void {
  const temporary = `${entry}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, script.createCachedData(), { mode: 0o600, flag: 'wx' });
    renameSync(temporary, entry);
  } catch {
    try {
      unlinkSync(temporary);
    } catch {
      // Nothing was written.
    }
  }
}
