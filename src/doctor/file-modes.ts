import { constants, type Stats } from 'node:fs';
import { access, lstat } from 'node:fs/promises';

/** `0640`-style text for a mode. */
export function formatMode(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

/** Permission bits beyond what `expected` allows: anything here is too open. */
export function extraBits(mode: number, expected: number): number {
  return mode & 0o777 & ~expected;
}

/** lstat that answers null for a path that is not there. */
export async function lstatOrNull(file: string): Promise<Stats | null> {
  try {
    return await lstat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Can this process create and rename entries in the folder? */
export async function isWritableFolder(folder: string): Promise<boolean> {
  try {
    await access(folder, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Quotes a path for a shell command line when it needs it. */
export function shellPath(file: string): string {
  return /^[A-Za-z0-9_./@%+=:,-]+$/.test(file) ? file : `'${file.replace(/'/g, `'\\''`)}'`;
}
