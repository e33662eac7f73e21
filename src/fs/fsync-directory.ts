import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';

/**
 * Flushes a folder's entries to disk. An atomic write fsyncs the file's data, but the rename that
 * gives it its name is durable only once the folder is: after a power cut the old file (or none)
 * could come back, with a refresh token the provider has already rotated away.
 */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (error) {
    // Some file systems cannot fsync a folder at all; there is nothing more to do on those.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EBADF' && code !== 'ENOTSUP') throw error;
  } finally {
    await handle.close();
  }
}

/**
 * `mkdir -p` whose new folders survive a power cut: the parent of every folder it creates is
 * fsynced. Folders that already exist cost one `mkdir` call and no fsync.
 */
export async function makeDirectoryDurable(dir: string, mode: number): Promise<void> {
  const created = await mkdir(dir, { recursive: true, mode });
  if (created === undefined) return;
  const first = path.resolve(created);
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    const parent = path.dirname(current);
    await fsyncDirectory(parent);
    if (current === first || parent === current) return;
  }
}
