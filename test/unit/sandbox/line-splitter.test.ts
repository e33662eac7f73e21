import { describe, expect, it } from 'vitest';
import { LineSplitter, MAX_LINE_BYTES } from '../../../src/sandbox/line-splitter.js';

const bytes = (text: string) => Buffer.from(text, 'utf8');

describe('LineSplitter', () => {
  it('splits a chunk into lines and keeps the unfinished one', () => {
    const splitter = new LineSplitter();
    expect(splitter.push(bytes('one\ntwo\nthr'))).toEqual([
      { text: 'one', truncated: false },
      { text: 'two', truncated: false },
    ]);
    expect(splitter.push(bytes('ee\n'))).toEqual([{ text: 'three', truncated: false }]);
    expect(splitter.flush()).toEqual([]);
  });

  it('joins a line split across many chunks, byte by byte', () => {
    const splitter = new LineSplitter();
    const lines = [...bytes('AUTH_REQUIRED:github:repo\n')].flatMap((byte) =>
      splitter.push(Uint8Array.of(byte)),
    );
    expect(lines).toEqual([{ text: 'AUTH_REQUIRED:github:repo', truncated: false }]);
  });

  it('keeps a UTF-8 character whole when a chunk boundary cuts it', () => {
    const splitter = new LineSplitter();
    const text = bytes('café ☕\n');
    const cut = text.indexOf(0xe2) + 1;
    expect([...splitter.push(text.subarray(0, cut)), ...splitter.push(text.subarray(cut))]).toEqual([
      { text: 'café ☕', truncated: false },
    ]);
  });

  it('drops the CR of CRLF line endings, and keeps empty lines', () => {
    const splitter = new LineSplitter();
    expect(splitter.push(bytes('a\r\n\r\n\nb\r'))).toEqual([
      { text: 'a', truncated: false },
      { text: '', truncated: false },
      { text: '', truncated: false },
    ]);
    expect(splitter.push(bytes('\n'))).toEqual([{ text: 'b', truncated: false }]);
  });

  it('returns the last line without a newline at flush', () => {
    const splitter = new LineSplitter();
    expect(splitter.push(bytes('done'))).toEqual([]);
    expect(splitter.flush()).toEqual([{ text: 'done', truncated: false }]);
    expect(splitter.flush()).toEqual([]);
  });

  it('keeps a line of exactly the limit whole', () => {
    const splitter = new LineSplitter({ maxLineBytes: 8 });
    expect(splitter.push(bytes('12345678\nx\n'))).toEqual([
      { text: '12345678', truncated: false },
      { text: 'x', truncated: false },
    ]);
  });

  it('cuts an over-long line at the limit, flags it, and drops the rest up to its newline', () => {
    const splitter = new LineSplitter({ maxLineBytes: 8 });
    expect(splitter.push(bytes('AUTH_REQUIRED:github'))).toEqual([{ text: 'AUTH_REQ', truncated: true }]);
    expect(splitter.push(bytes('more and more'))).toEqual([]);
    expect(splitter.push(bytes(' end\nnext\n'))).toEqual([{ text: 'next', truncated: false }]);
  });

  it('holds no more than the limit of a line that never ends (64 KiB by default)', () => {
    const splitter = new LineSplitter();
    const megabyte = Buffer.alloc(1024 * 1024, 0x61);
    const first = splitter.push(megabyte);
    expect(first).toHaveLength(1);
    expect(first[0]?.truncated).toBe(true);
    expect(Buffer.byteLength(first[0]?.text ?? '')).toBe(MAX_LINE_BYTES);
    for (let index = 0; index < 20; index++) expect(splitter.push(megabyte)).toEqual([]);
    expect(splitter.flush()).toEqual([]);
    expect(splitter.push(bytes('ok\n'))).toEqual([{ text: 'ok', truncated: false }]);
  });
});
