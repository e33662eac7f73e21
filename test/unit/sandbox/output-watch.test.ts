import { describe, expect, it } from 'vitest';
import type { AuthRequest } from '../../../src/sandbox/auth-required-parser.js';
import { OutputWatch } from '../../../src/sandbox/output-watch.js';

function watchWith(declared: Record<string, string[]>) {
  const announced: AuthRequest[] = [];
  const lines: { stream: string; text: string; truncated: boolean }[] = [];
  const watch = new OutputWatch({
    declared: new Map(Object.entries(declared)),
    onPrompt: async (request) => {
      announced.push(request);
    },
    onLine: (stream, line) => lines.push({ stream, ...line }),
  });
  return { watch, announced, lines };
}

describe('OutputWatch', () => {
  it('finds a prompt whatever the chunking, down to one byte at a time', async () => {
    const text = 'hello\nAUTH_REQUIRED:google-calendar:calendar.readonly\nbye\n';
    const { watch, announced, lines } = watchWith({ 'google-calendar': ['calendar'] });
    for (const byte of Buffer.from(text)) watch.write(Uint8Array.of(byte));
    watch.end();
    await watch.settled();
    expect(announced).toEqual([{ provider: 'google-calendar', scopes: ['calendar.readonly'] }]);
    expect(watch.prompts).toEqual(announced);
    expect(lines.map((line) => line.text)).toEqual(['hello', 'bye']);
  });

  it('announces a provider once, however often the line repeats, and keeps it out of the output', async () => {
    const { watch, announced, lines } = watchWith({ github: ['repo'] });
    watch.write('AUTH_REQUIRED:github\nAUTH_REQUIRED:github:repo\r\n');
    watch.end();
    await watch.settled();
    expect(announced).toEqual([{ provider: 'github', scopes: ['repo'] }]);
    expect(lines).toEqual([]);
  });

  it('uses the declared scopes when the line names none', async () => {
    const { watch, announced } = watchWith({ github: ['repo', 'read:user'] });
    watch.write('AUTH_REQUIRED:github\n');
    await watch.settled();
    expect(announced).toEqual([{ provider: 'github', scopes: ['repo', 'read:user'] }]);
  });

  it('lets only declared providers on stdout prompt; the rest is ordinary output', async () => {
    const { watch, announced, lines } = watchWith({ github: [] });
    watch.write('AUTH_REQUIRED:gmail\n');
    watch.write('AUTH_REQUIRED:github\n', 'stderr');
    watch.write('  AUTH_REQUIRED:github\n');
    watch.end();
    await watch.settled();
    expect(announced).toEqual([]);
    expect(lines).toEqual([
      { stream: 'stdout', text: 'AUTH_REQUIRED:gmail', truncated: false },
      { stream: 'stderr', text: 'AUTH_REQUIRED:github', truncated: false },
      { stream: 'stdout', text: '  AUTH_REQUIRED:github', truncated: false },
    ]);
  });

  it('reads a last line that has no newline when the output ends, and nothing after end', async () => {
    const { watch, announced } = watchWith({ github: [] });
    watch.write('AUTH_REQUIRED:git');
    watch.write('hub');
    expect(announced).toEqual([]);
    watch.end();
    watch.write('AUTH_REQUIRED:github:late\n');
    watch.end();
    await watch.settled();
    expect(announced).toEqual([{ provider: 'github', scopes: [] }]);
  });

  it('keeps a stream per kind: a stderr chunk never completes a stdout line', async () => {
    const { watch, announced, lines } = watchWith({ github: [] });
    watch.write('AUTH_REQUIRED:');
    watch.write('noise\n', 'stderr');
    watch.write('github\n');
    await watch.settled();
    expect(announced).toEqual([{ provider: 'github', scopes: [] }]);
    expect(lines).toEqual([{ stream: 'stderr', text: 'noise', truncated: false }]);
  });

  it('settles even when an announcement fails', async () => {
    const watch = new OutputWatch({
      declared: new Map([['github', []]]),
      onPrompt: () => Promise.reject(new Error('source down')),
    });
    watch.write('AUTH_REQUIRED:github\n');
    await expect(watch.settled()).resolves.toBeUndefined();
    expect(watch.prompts).toHaveLength(1);
  });
});
