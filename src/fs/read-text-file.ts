import { open } from 'node:fs/promises';

export interface TextFile {
  text: string;
  modifiedAt: Date;
}

/**
 * A file's text and modification time from one open: open, fstat, read, close. Both describe the
 * same file even while another writer renames a new one over the path.
 */
export async function readTextFile(file: string): Promise<TextFile> {
  const handle = await open(file, 'r');
  try {
    const info = await handle.stat();
    // At least one read, so that a folder (or anything else that is no file) fails as readFile would.
    const buffer = Buffer.allocUnsafe(Math.max(info.size, 1));
    let filled = 0;
    do {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
      // Shorter than fstat said (truncated in place, or empty): what is there is what it holds.
      if (bytesRead === 0) break;
      filled += bytesRead;
    } while (filled < info.size);
    return { text: buffer.toString('utf8', 0, filled), modifiedAt: info.mtime };
  } finally {
    await handle.close();
  }
}
