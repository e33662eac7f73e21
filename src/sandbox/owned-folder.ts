import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { SkillFilesError } from './sandbox-errors.js';

const STICKY = 0o1000;
const WRITABLE_BY_OTHERS = 0o022;

function ourUid(): number {
  return process.getuid?.() ?? 0;
}

/**
 * Refuses a folder path that anyone but us (or root) could change: every component from `/` down,
 * read with lstat, must be a real folder (not a symbolic link) owned by us or root, and writable by
 * no group or other user, except a sticky folder such as /tmp (there, nobody else may rename or
 * remove what is ours). `ours` names the components nanoclaw made: those must be ours and never
 * writable by others, sticky or not.
 */
export async function checkOwnedPath(folder: string, ours: readonly string[] = []): Promise<void> {
  const uid = ourUid();
  const absolute = path.resolve(folder);
  const components: string[] = [];
  for (let at = absolute; ; at = path.dirname(at)) {
    components.unshift(at);
    if (path.dirname(at) === at) break;
  }
  const strict = new Set(ours.map((item) => path.resolve(item)));
  for (const component of components) {
    const info = await lstat(component).catch((error: unknown) => {
      throw new SkillFilesError(`cannot check ${component}: ${(error as Error).message}`, { cause: error });
    });
    if (!info.isDirectory()) {
      throw new SkillFilesError(`${component} is not a real folder (a symbolic link or a file)`);
    }
    const mine = strict.has(component);
    if (info.uid !== uid && (mine || info.uid !== 0)) {
      throw new SkillFilesError(`${component} belongs to uid ${info.uid}, not to nanoclaw's user (${uid})`);
    }
    const sticky = (info.mode & STICKY) !== 0;
    if ((info.mode & WRITABLE_BY_OTHERS) !== 0 && (mine || !sticky)) {
      throw new SkillFilesError(
        `${component} is writable by others (mode ${(info.mode & 0o7777).toString(8)}): ` +
          'they could replace the skill files a container mounts',
      );
    }
  }
}
