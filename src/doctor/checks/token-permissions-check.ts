import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { TOKEN_DIR_MODE, TOKEN_FILE_MODE } from '../../tokens/token-folder.js';
import { fail, ok, summarizeList, warn, type CheckResult } from '../check-result.js';
import { extraBits, formatMode, isWritableFolder, lstatOrNull, shellPath } from '../file-modes.js';
import type { ProcessIdentity } from './data-folder-check.js';

export interface TokenPermissionsInput {
  tokensDir: string;
  identity: ProcessIdentity;
  /** The group skill containers read tokens through; null when files keep the daemon's group. */
  tokenGroup: number | null;
}

interface Entry {
  path: string;
  kind: 'folder' | 'file' | 'other';
  mode: number;
  gid: number;
}

const NAME = 'token-permissions';
/** Showing every path beyond this many makes the fix a `find` over the whole folder. */
const MAX_LISTED_PATHS = 3;

async function listEntries(tokensDir: string): Promise<Entry[]> {
  const entries: Entry[] = [];
  const visit = async (file: string, depth: number): Promise<void> => {
    const stats = await lstatOrNull(file);
    if (stats === null) return;
    const kind = stats.isDirectory() ? 'folder' : stats.isFile() ? 'file' : 'other';
    entries.push({ path: file, kind, mode: stats.mode, gid: stats.gid });
    // tokens/<owner>/<provider>.json: two levels, nothing deeper is ours.
    if (kind === 'folder' && depth < 2) {
      for (const name of (await readdir(file)).sort()) await visit(path.join(file, name), depth + 1);
    }
  };
  await visit(tokensDir, 0);
  return entries;
}

function describe(entry: Entry): string {
  return `${entry.path} (${formatMode(entry.mode)})`;
}

function chmodFix(tokensDir: string, folders: Entry[], files: Entry[]): string {
  const dirMode = TOKEN_DIR_MODE.toString(8);
  const fileMode = TOKEN_FILE_MODE.toString(8);
  if (folders.length + files.length > MAX_LISTED_PATHS) {
    const root = shellPath(tokensDir);
    return `find ${root} -type d -exec chmod ${dirMode} {} + && find ${root} -type f -exec chmod ${fileMode} {} +`;
  }
  const commands: string[] = [];
  if (folders.length > 0)
    commands.push(`chmod ${dirMode} ${folders.map((entry) => shellPath(entry.path)).join(' ')}`);
  if (files.length > 0)
    commands.push(`chmod ${fileMode} ${files.map((entry) => shellPath(entry.path)).join(' ')}`);
  return commands.join(' && ');
}

/**
 * Token folders 0750 and token files 0640: the daemon writes, the skills' group reads, nobody else
 * can even list them. Anything more open is a failure; less open hides tokens from skills.
 */
export async function checkTokenPermissions(input: TokenPermissionsInput): Promise<CheckResult> {
  const { tokensDir } = input;
  const entries = await listEntries(tokensDir);
  if (entries.length === 0) return ok(NAME, `${tokensDir} does not exist yet (no token synced)`);
  const root = entries[0]!;
  if (root.kind !== 'folder') {
    return fail(NAME, `${tokensDir} is not a folder`, `move it away; the daemon recreates ${tokensDir}`);
  }

  const folders = entries.filter((entry) => entry.kind === 'folder');
  const files = entries.filter((entry) => entry.kind === 'file');
  const others = entries.filter((entry) => entry.kind === 'other');
  const openFolders = folders.filter((entry) => extraBits(entry.mode, TOKEN_DIR_MODE) !== 0);
  const openFiles = files.filter((entry) => extraBits(entry.mode, TOKEN_FILE_MODE) !== 0);

  if (others.length > 0) {
    return fail(
      NAME,
      `not a plain file or folder: ${summarizeList(others.map((entry) => entry.path))}`,
      `remove them (rm ${others.map((entry) => shellPath(entry.path)).join(' ')}); only the daemon writes here`,
    );
  }
  if (openFolders.length + openFiles.length > 0) {
    const open = [...openFolders, ...openFiles];
    return fail(
      NAME,
      `${open.length} ${open.length === 1 ? 'path is' : 'paths are'} too open (want folders ${formatMode(TOKEN_DIR_MODE)}, files ${formatMode(TOKEN_FILE_MODE)}): ${summarizeList(open.map(describe))}`,
      chmodFix(tokensDir, openFolders, openFiles),
    );
  }
  const unwritable: Entry[] = [];
  for (const folder of folders) if (!(await isWritableFolder(folder.path))) unwritable.push(folder);
  if (unwritable.length > 0) {
    return fail(
      NAME,
      `not writable by uid ${input.identity.uid}: ${summarizeList(unwritable.map((entry) => entry.path))}`,
      `chown -R ${input.identity.uid}:${input.tokenGroup ?? input.identity.gid} ${shellPath(tokensDir)} (or run nanoclaw doctor as the daemon's user)`,
    );
  }

  const closedFolders = folders.filter((entry) => (entry.mode & 0o050) !== 0o050);
  const closedFiles = files.filter((entry) => (entry.mode & 0o040) === 0);
  if (closedFolders.length + closedFiles.length > 0) {
    const closed = [...closedFolders, ...closedFiles];
    return warn(
      NAME,
      `skills cannot read through their group: ${summarizeList(closed.map(describe))}`,
      chmodFix(tokensDir, closedFolders, closedFiles),
    );
  }
  if (input.tokenGroup !== null) {
    // The tokens folder itself is never mounted; only owner folders and their files must be readable.
    const wrongGroup = entries.filter((entry) => entry.path !== tokensDir && entry.gid !== input.tokenGroup);
    if (wrongGroup.length > 0) {
      return warn(
        NAME,
        `not in the skills' group ${input.tokenGroup}: ${summarizeList(wrongGroup.map((entry) => `${entry.path} (group ${entry.gid})`))}`,
        `chgrp -R ${input.tokenGroup} ${shellPath(tokensDir)}`,
      );
    }
  }
  const owners = folders.length - 1;
  return ok(
    NAME,
    `${owners} owner ${owners === 1 ? 'folder' : 'folders'} and ${files.length} token ${files.length === 1 ? 'file' : 'files'}, folders ${formatMode(TOKEN_DIR_MODE)} and files ${formatMode(TOKEN_FILE_MODE)} or tighter`,
  );
}
