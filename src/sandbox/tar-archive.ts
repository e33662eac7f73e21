/** One entry of a tar archive: a folder (no content) or a regular file. */
export interface TarEntry {
  /** Relative path with `/` separators; folders may end with `/`. */
  path: string;
  mode: number;
  /** null for a folder. */
  content: Buffer | null;
}

const BLOCK = 512;
const encoder = new TextEncoder();

function writeText(header: Buffer, offset: number, length: number, text: string): void {
  const bytes = encoder.encode(text);
  if (bytes.length > length) throw new Error(`tar: "${text}" does not fit in ${length} bytes`);
  header.set(bytes, offset);
}

function writeOctal(header: Buffer, offset: number, length: number, value: number): void {
  writeText(header, offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
}

/** ustar keeps 100 bytes of name plus a 155-byte prefix split at a `/`. */
function splitName(name: string): { prefix: string; name: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', name };
  for (let cut = name.indexOf('/'); cut !== -1; cut = name.indexOf('/', cut + 1)) {
    const prefix = name.slice(0, cut);
    const rest = name.slice(cut + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100) return { prefix, name: rest };
  }
  throw new Error(`tar: path too long: ${name}`);
}

function header(entry: TarEntry): Buffer {
  const block = Buffer.alloc(BLOCK);
  const isFolder = entry.content === null;
  const path = isFolder && !entry.path.endsWith('/') ? `${entry.path}/` : entry.path;
  const { prefix, name } = splitName(path);
  writeText(block, 0, 100, name);
  writeOctal(block, 100, 8, entry.mode & 0o7777);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, entry.content?.length ?? 0);
  // A fixed time keeps the archive (and the image cache key) the same for the same files.
  writeOctal(block, 136, 12, 0);
  block.fill(0x20, 148, 156);
  writeText(block, 156, 1, isFolder ? '5' : '0');
  writeText(block, 257, 6, 'ustar\0');
  writeText(block, 263, 2, '00');
  writeText(block, 345, 155, prefix);
  let checksum = 0;
  for (const byte of block) checksum += byte;
  writeText(block, 148, 8, `${checksum.toString(8).padStart(6, '0')}\0 `);
  return block;
}

/** A POSIX ustar archive of the entries, owned by root: enough for a Docker build context. */
export function createTarArchive(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    parts.push(header(entry));
    if (entry.content !== null && entry.content.length > 0) {
      parts.push(entry.content);
      const padding = (BLOCK - (entry.content.length % BLOCK)) % BLOCK;
      if (padding > 0) parts.push(Buffer.alloc(padding));
    }
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}
