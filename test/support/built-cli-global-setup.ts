import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCli } from '../../scripts/build-cli.js';
import { BUILT_CLI_ENV } from './cli.js';

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * vitest `globalSetup`: bundles the CLI once, as `npm run build` does, so that every test that runs
 * `nanoclaw` as a process (`spawnCli`) runs what users install. Its metafile lies beside it.
 */
export default async function bundleCliForTests(): Promise<() => Promise<void>> {
  // Inside the package, so that the bundle finds node_modules as the installed one does.
  await mkdir(path.join(PACKAGE_ROOT, 'dist'), { recursive: true });
  const dir = await mkdtemp(path.join(PACKAGE_ROOT, 'dist', 'test-bin-'));
  const { entry, metafile } = await buildCli(dir);
  await writeFile(path.join(dir, 'metafile.json'), JSON.stringify(metafile));
  process.env[BUILT_CLI_ENV] = entry;
  return async () => {
    await rm(dir, { recursive: true, force: true });
  };
}
