import { fail, ok, summarizeList, type CheckResult } from '../check-result.js';
import { extraBits, formatMode, lstatOrNull, shellPath } from '../file-modes.js';

/** A file that holds a secret and must be readable by its owner alone. */
export interface SecretFile {
  /** What it is, for people: "API token". */
  label: string;
  path: string;
}

const NAME = 'secret-files';
const SECRET_FILE_MODE = 0o600;

/** Each secret file that exists is a plain file with mode 0600 (their contents are never read). */
export async function checkSecretFiles(files: readonly SecretFile[]): Promise<CheckResult> {
  const present: Array<SecretFile & { mode: number }> = [];
  const notPlain: SecretFile[] = [];
  for (const file of files) {
    const stats = await lstatOrNull(file.path);
    if (stats === null) continue;
    if (!stats.isFile()) notPlain.push(file);
    else present.push({ ...file, mode: stats.mode });
  }
  if (notPlain.length > 0) {
    return fail(
      NAME,
      `not a plain file: ${summarizeList(notPlain.map((file) => `${file.label} ${file.path}`))}`,
      `replace each with a plain file readable by the daemon's user only (chmod 600)`,
    );
  }
  const open = present.filter((file) => extraBits(file.mode, SECRET_FILE_MODE) !== 0);
  if (open.length > 0) {
    return fail(
      NAME,
      `readable by others: ${summarizeList(open.map((file) => `${file.label} ${file.path} (${formatMode(file.mode)})`))}`,
      `chmod 600 ${open.map((file) => shellPath(file.path)).join(' ')}`,
    );
  }
  if (present.length === 0)
    return ok(NAME, `none created yet (${files.map((file) => file.label).join(', ')})`);
  return ok(NAME, `${present.map((file) => `${file.label} ${formatMode(file.mode)}`).join(', ')}`);
}
