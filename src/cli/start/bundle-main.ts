#!/usr/bin/env node
import module from 'node:module';
import { fileURLToPath } from 'node:url';
import { useCodeCache } from './code-cache.js';
import { hotCommandOf } from './hot-command.js';

/**
 * The built CLI's entry (the package's bin). A hot command (sync, status) runs from a CommonJS bundle
 * of its own, loaded through V8's code cache as it stands after a run (what Node 20 has no cache for
 * at all, and more than Node 22's compile cache keeps: it stores the code compiled before the run).
 * Every other command runs from the ES module chunks, with Node's compile cache where there is one.
 */
const enable = (module as { enableCompileCache?: () => unknown }).enableCompileCache;
const hot = hotCommandOf(process.argv.slice(2));
if (hot !== null) {
  useCodeCache(fileURLToPath(new URL('.', import.meta.url)).replace(/[\\/]$/, ''));
  const bundle = fileURLToPath(new URL(`hot-${hot}.cjs`, import.meta.url));
  const { runMain } = module.createRequire(import.meta.url)(bundle) as typeof import('../run-main.js');
  await runMain();
} else {
  enable?.();
  const { runMain } = await import('../run-main.js');
  await runMain();
}
