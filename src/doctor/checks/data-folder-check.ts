import { fail, ok, warn, type CheckResult } from '../check-result.js';
import { formatMode, isWritableFolder, lstatOrNull, shellPath } from '../file-modes.js';

export interface ProcessIdentity {
  uid: number;
  gid: number;
}

const NAME = 'data-folder';

/** The data folder exists, this user can write it, and nobody else can. */
export async function checkDataFolder(dataDir: string, identity: ProcessIdentity): Promise<CheckResult> {
  const dir = shellPath(dataDir);
  const chown = `chown -R ${identity.uid}:${identity.gid} ${dir} (or run nanoclaw doctor as the daemon's user)`;
  const stats = await lstatOrNull(dataDir);
  if (stats === null) {
    return warn(
      NAME,
      `${dataDir} does not exist yet; the daemon creates it on first write`,
      `mkdir -p -m 750 ${dir}`,
    );
  }
  if (!stats.isDirectory()) {
    return fail(
      NAME,
      `${dataDir} is not a folder`,
      `move it away and create the folder: mkdir -p -m 750 ${dir}`,
    );
  }
  if (!(await isWritableFolder(dataDir))) {
    return fail(
      NAME,
      `${dataDir} is not writable by uid ${identity.uid} (owner uid ${stats.uid}, mode ${formatMode(stats.mode)})`,
      chown,
    );
  }
  if (stats.mode & 0o002) {
    return fail(NAME, `${dataDir} is writable by everyone (${formatMode(stats.mode)})`, `chmod o-w ${dir}`);
  }
  if (identity.uid !== 0 && stats.uid !== identity.uid) {
    return warn(
      NAME,
      `${dataDir} belongs to uid ${stats.uid}, not to this user (uid ${identity.uid})`,
      chown,
    );
  }
  return ok(NAME, `${dataDir} is writable (owner uid ${stats.uid}, mode ${formatMode(stats.mode)})`);
}
