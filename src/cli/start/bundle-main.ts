import module from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { useCodeCache } from './code-cache.js';
import type { runMain as RunMain } from '../run-main.js';
import { hotCommandOf } from './hot-command.js';

/**
 * The built CLI's entry (the package's bin, a CommonJS file: nothing of the ES module loader runs for
 * a hot command). A hot command (sync, status, run) runs from a CommonJS bundle of its own, loaded
 * through V8's code cache as it stands after a run: what Node 20 has no cache for at all, and more than
 * Node 22's compile cache keeps (the code compiled before the run). Every other command runs from the
 * ES module chunks, with Node's compile cache where there is one.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const hot = hotCommandOf(process.argv.slice(2));
let started: Promise<void>;
if (hot !== null) {
  // Kept for the life of the process: it stores what the command compiled when the process ends.
  useCodeCache(here);
  const bundle = path.join(here, `hot-${hot}.cjs`);
  const { runMain } = module.createRequire(import.meta.url)(bundle) as {
    runMain: typeof RunMain;
  };
  started = runMain();
} else {
  (module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
  started = import('../run-main.js').then(({ runMain }) => runMain());
}
// runMain reports every failure of a command itself; this is for a broken installation.
started.catch((error: unknown) => {
  process.stderr.write(`nanoclaw: cannot start: ${error instanceof Error ? error.message : 'unknown'}\n`);
  process.exitCode = 1;
});
