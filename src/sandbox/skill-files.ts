import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { snapshotFolder } from './folder-snapshot.js';
import { createTarArchive } from './tar-archive.js';

/** A skill this big is a mistake (a data set, a virtualenv), not a skill. */
export const MAX_SKILL_BYTES = 64 * 1024 * 1024;

/**
 * A tar of one skill's folder, read now without following any link (see `snapshotFolder`), for the
 * run's container. Modes are those the default image gives skills: readable by all, writable by none
 * but root (the archive's owner), executable where the author made a file executable.
 */
export async function archiveSkillFiles(
  skillsDir: string,
  skill: string,
  signal?: AbortSignal,
): Promise<Buffer> {
  // The operator's own path may go through links; the skill's folder and all below it may not.
  const folder = path.join(await realpath(skillsDir), skill);
  const entries = await snapshotFolder(folder, {
    prefix: '',
    maxBytes: MAX_SKILL_BYTES,
    ...(signal ? { signal } : {}),
  });
  return createTarArchive(
    entries.map((entry) => ({
      ...entry,
      mode: entry.content === null || (entry.mode & 0o111) !== 0 ? 0o755 : 0o644,
    })),
  );
}
