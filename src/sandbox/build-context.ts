import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { createTarArchive, type TarEntry } from './tar-archive.js';

/** Same exclusions as .dockerignore: caches that only make builds differ. */
const IGNORED_NAMES = new Set(['__pycache__', '.DS_Store']);
const IGNORED_SUFFIXES = ['.pyc'];
/** A skills folder this big is a mistake (a data set, a virtualenv), not skills. */
const MAX_CONTEXT_BYTES = 64 * 1024 * 1024;

export interface BuildContextFiles {
  /** Goes into the context as `Dockerfile.skill`. */
  dockerfile: string;
  /** Goes into the context as `skills/`; may be missing (then the folder is empty). */
  skillsDir: string;
}

async function collect(dir: string, prefix: string, entries: TarEntry[], total: { bytes: number }) {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for (const name of names) {
    if (IGNORED_NAMES.has(name) || IGNORED_SUFFIXES.some((suffix) => name.endsWith(suffix))) continue;
    const full = path.join(dir, name);
    const info = await lstat(full);
    // Symlinks could point anywhere on the host; they are left out rather than followed.
    if (info.isDirectory()) {
      entries.push({ path: `${prefix}${name}/`, mode: info.mode, content: null });
      await collect(full, `${prefix}${name}/`, entries, total);
    } else if (info.isFile()) {
      total.bytes += info.size;
      if (total.bytes > MAX_CONTEXT_BYTES) {
        throw new Error(`the skills folder ${dir} holds more than 64 MiB`);
      }
      entries.push({ path: `${prefix}${name}`, mode: info.mode, content: await readFile(full) });
    }
  }
}

/** The tar build context for Dockerfile.skill: the Dockerfile and the skills folder, nothing else. */
export async function createSkillBuildContext(files: BuildContextFiles): Promise<Buffer> {
  const entries: TarEntry[] = [
    { path: 'Dockerfile.skill', mode: 0o644, content: await readFile(files.dockerfile) },
    { path: 'skills/', mode: 0o755, content: null },
  ];
  await collect(files.skillsDir, 'skills/', entries, { bytes: 0 });
  return createTarArchive(entries);
}
