import { describe, expect, it } from 'vitest';
import { DockerStreamDemuxer, type OutputChunk } from '../../../src/sandbox/docker-stream-demuxer.js';

function frame(type: number, payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8');
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

function collect(chunks: readonly OutputChunk[]): Record<string, string> {
  const out: Record<string, string> = { stdout: '', stderr: '' };
  for (const chunk of chunks) out[chunk.stream] += chunk.data.toString('utf8');
  return out;
}

describe('DockerStreamDemuxer', () => {
  it('separates stdout and stderr frames', () => {
    const demuxer = new DockerStreamDemuxer();
    const chunks = demuxer.push(
      Buffer.concat([frame(1, 'out 1\n'), frame(2, 'err 1\n'), frame(1, 'out 2\n')]),
    );
    expect(collect(chunks)).toEqual({ stdout: 'out 1\nout 2\n', stderr: 'err 1\n' });
  });

  it('handles headers and payloads cut at any byte', () => {
    const stream = Buffer.concat([frame(1, 'hello '), frame(2, 'oops\n'), frame(1, 'world\n'), frame(1, '')]);
    for (let size = 1; size <= stream.length; size++) {
      const demuxer = new DockerStreamDemuxer();
      const chunks: OutputChunk[] = [];
      for (let offset = 0; offset < stream.length; offset += size) {
        chunks.push(...demuxer.push(stream.subarray(offset, offset + size)));
      }
      expect(collect(chunks)).toEqual({ stdout: 'hello world\n', stderr: 'oops\n' });
    }
  });

  it('drops frames of other stream types', () => {
    const demuxer = new DockerStreamDemuxer();
    expect(collect(demuxer.push(Buffer.concat([frame(0, 'stdin'), frame(3, 'x'), frame(1, 'ok')])))).toEqual({
      stdout: 'ok',
      stderr: '',
    });
  });
});
