/** Longest line kept whole; longer lines are cut here and flagged. */
export const MAX_LINE_BYTES = 64 * 1024;

export interface SplitLine {
  /** The line without its `\n` (or `\r\n`), decoded as UTF-8. */
  text: string;
  /** The line was longer than the cap: `text` holds its first bytes and the rest was dropped. */
  truncated: boolean;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Splits a byte stream into lines as chunks arrive. Works on bytes, so a UTF-8 character split
 * across chunks stays whole; holds at most `maxLineBytes` of a pending line, whatever the input.
 */
export class LineSplitter {
  readonly #maxLineBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Bytes of an over-long line are being dropped until its newline. */
  #discarding = false;

  constructor(options: { maxLineBytes?: number } = {}) {
    this.#maxLineBytes = options.maxLineBytes ?? MAX_LINE_BYTES;
  }

  /** Feeds a chunk; returns the lines it completed. */
  push(chunk: Uint8Array): SplitLine[] {
    const lines: SplitLine[] = [];
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      this.#append(chunk.subarray(start, end), lines);
      if (newline === -1) break;
      if (this.#discarding) this.#discarding = false;
      else lines.push(this.#take(false));
      start = newline + 1;
    }
    return lines;
  }

  /** Ends the stream: returns the last line when it had no newline. */
  flush(): SplitLine[] {
    const wasDiscarding = this.#discarding;
    this.#discarding = false;
    if (wasDiscarding || this.#pendingBytes === 0) {
      this.#pending = [];
      this.#pendingBytes = 0;
      return [];
    }
    return [this.#take(false)];
  }

  #append(piece: Uint8Array, lines: SplitLine[]): void {
    if (this.#discarding || piece.length === 0) return;
    const room = this.#maxLineBytes - this.#pendingBytes;
    if (piece.length <= room) {
      this.#pending.push(Buffer.from(piece));
      this.#pendingBytes += piece.length;
      return;
    }
    // Over the cap: emit what fits, flagged, and drop the rest of this line.
    this.#pending.push(Buffer.from(piece.subarray(0, room)));
    this.#pendingBytes += room;
    lines.push(this.#take(true));
    this.#discarding = true;
  }

  #take(truncated: boolean): SplitLine {
    let bytes = Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    if (!truncated && bytes.length > 0 && bytes[bytes.length - 1] === CARRIAGE_RETURN) {
      bytes = bytes.subarray(0, bytes.length - 1);
    }
    return { text: bytes.toString('utf8'), truncated };
  }
}
