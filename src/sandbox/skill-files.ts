import { createHash } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { snapshotFolder } from './folder-snapshot.js';
import type { TarEntry } from './tar-archive.js';

/** A skill this big is a mistake (a data set, a virtualenv), not a skill. */
export const MAX_SKILL_BYTES = 64 * 1024 * 1024;
export const SKILL_FILE_MODE = 0o644;
export const SKILL_EXECUTABLE_MODE = 0o755;

/**
 * One skill's folder, read now without following any link (see `snapshotFolder`), for the run's
 * container. Modes are those the default image gives skills: readable by all, writable by none but
 * their owner, executable where the author made a file executable.
 */
export async function readSkillFiles(
  skillsDir: string,
  skill: string,
  signal?: AbortSignal,
): Promise<TarEntry[]> {
  // The operator's own path may go through links; the skill's folder and all below it may not.
  const folder = path.join(await realpath(skillsDir), skill);
  const entries = await snapshotFolder(folder, {
    prefix: '',
    maxBytes: MAX_SKILL_BYTES,
    ...(signal ? { signal } : {}),
  });
  return entries.map((entry) => ({
    ...entry,
    mode: entry.content === null || (entry.mode & 0o111) !== 0 ? SKILL_EXECUTABLE_MODE : SKILL_FILE_MODE,
  }));
}

/**
 * SHA-256 of the files' names, kinds, modes and contents, in order: the same files give the same
 * digest, and any change to one of them gives another. Every field is length-prefixed, so no two
 * different trees share an encoding.
 */
export function digestSkillFiles(entries: readonly TarEntry[]): string {
  const hash = createHash('sha256');
  const field = (bytes: Buffer | string) => {
    const data = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    const length = Buffer.alloc(8);
    length.writeBigUInt64BE(BigInt(data.length));
    hash.update(length);
    hash.update(data);
  };
  for (const entry of entries) {
    field(entry.content === null ? 'd' : 'f');
    field(entry.path);
    field((entry.mode & 0o7777).toString(8));
    if (entry.content !== null) field(entry.content);
  }
  return hash.digest('hex');
}
