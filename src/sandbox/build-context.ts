import { readFile, realpath } from 'node:fs/promises';
import { MAX_SNAPSHOT_DEPTH, snapshotFolder } from './folder-snapshot.js';
import { createTarArchive, type TarEntry } from './tar-archive.js';

/** A skills folder this big is a mistake (a data set, a virtualenv), not skills. */
const MAX_CONTEXT_BYTES = 64 * 1024 * 1024;

export interface BuildContextFiles {
  /** Goes into the context as `Dockerfile.skill`. */
  dockerfile: string;
  /** Goes into the context as `skills/`; may be missing (then the folder is empty). */
  skillsDir: string;
}

/** The tar build context for Dockerfile.skill: the Dockerfile and the skills folder, nothing else. */
export async function createSkillBuildContext(files: BuildContextFiles): Promise<Buffer> {
  const entries: TarEntry[] = [
    { path: 'Dockerfile.skill', mode: 0o644, content: await readFile(files.dockerfile) },
    { path: 'skills/', mode: 0o755, content: null },
  ];
  let skillsDir: string | null;
  try {
    // The operator's own path may go through links; below it, nothing is followed (see snapshotFolder).
    skillsDir = await realpath(files.skillsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    skillsDir = null;
  }
  if (skillsDir !== null) {
    entries.push(
      ...(await snapshotFolder(skillsDir, {
        prefix: 'skills/',
        maxBytes: MAX_CONTEXT_BYTES,
        // Each skill's own folder sits one level down: it may nest as deep as a skill run allows.
        maxDepth: MAX_SNAPSHOT_DEPTH + 1,
      })),
    );
  }
  return createTarArchive(entries);
}
