import type { FileHandle } from 'node:fs/promises';

/** Read size when the file turns out longer than its size said (it grew after the check). */
const GROWTH_CHUNK_BYTES = 64 * 1024;

/**
 * Reads an open file from its start to its end, but never more than `limit + 1` bytes: null when it
 * holds more than `limit`. `expectedSize` (its size when checked) only sizes the first read: a file
 * that grows while it is read (its author appending to it) cannot make this read past the limit.
 */
export async function readAtMost(
  file: Pick<FileHandle, 'read'>,
  limit: number,
  expectedSize: number,
): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const wanted = Math.min(Math.max(expectedSize + 1 - total, GROWTH_CHUNK_BYTES), limit + 1 - total);
    const buffer = Buffer.allocUnsafe(wanted);
    const { bytesRead } = await file.read(buffer, 0, wanted, total);
    if (bytesRead === 0) return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total);
    chunks.push(buffer.subarray(0, bytesRead));
    total += bytesRead;
    if (total > limit) return null;
  }
}
