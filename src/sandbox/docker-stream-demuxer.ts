export type OutputStream = 'stdout' | 'stderr';

export interface OutputChunk {
  stream: OutputStream;
  data: Buffer;
}

const HEADER_BYTES = 8;

/**
 * Splits Docker's multiplexed attach stream (TTY off) into stdout and stderr pieces. Each frame is
 * an 8-byte header (stream type, 3 zero bytes, payload length big-endian) and its payload. Payload
 * bytes are passed on as they arrive, so a big frame is never held whole in memory.
 */
export class DockerStreamDemuxer {
  readonly #header = Buffer.alloc(HEADER_BYTES);
  #headerBytes = 0;
  #remaining = 0;
  #stream: OutputStream | null = null;

  push(chunk: Buffer): OutputChunk[] {
    const out: OutputChunk[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#remaining === 0) {
        const take = Math.min(HEADER_BYTES - this.#headerBytes, chunk.length - offset);
        chunk.copy(this.#header, this.#headerBytes, offset, offset + take);
        this.#headerBytes += take;
        offset += take;
        if (this.#headerBytes < HEADER_BYTES) break;
        this.#headerBytes = 0;
        const type = this.#header[0];
        // 1 stdout, 2 stderr; stdin (0) is never attached and anything else is not ours to print.
        this.#stream = type === 1 ? 'stdout' : type === 2 ? 'stderr' : null;
        this.#remaining = this.#header.readUInt32BE(4);
        continue;
      }
      const take = Math.min(this.#remaining, chunk.length - offset);
      if (this.#stream !== null)
        out.push({ stream: this.#stream, data: chunk.subarray(offset, offset + take) });
      this.#remaining -= take;
      offset += take;
    }
    return out;
  }
}
