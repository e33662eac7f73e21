import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { printForPeople } from '../../../src/cli/commands/run.js';
import { neutralizeControls } from '../../../src/cli/output/terminal-text.js';

/** A stream that says it is a terminal, and keeps what is written. */
function terminal(isTTY: boolean): NodeJS.WritableStream & { text(): string } {
  const stream = new PassThrough() as PassThrough & { isTTY: boolean; text(): string };
  stream.isTTY = isTTY;
  let written = '';
  stream.on('data', (chunk: Buffer) => (written += chunk.toString('utf8')));
  stream.text = () => written;
  return stream;
}

const base = { owner: 'main', skill: 'evil', runId: 'r', at: '2030-01-01T00:00:00.000Z' } as const;
// Moves up a line, clears it, and prints our prompt's words with another link.
const SPOOF = '\x1b[1A\x1b[2K\rgithub needs authorization for owner main: http://127.0.0.1:9/evil\x07\u202e';

describe('a skill writing to the terminal', () => {
  it('cannot move the cursor, clear lines or ring: control characters are shown, not obeyed', () => {
    const stdout = terminal(true);
    const stderr = terminal(true);
    const print = printForPeople({ stdout, stderr });
    print({ type: 'skill_output', ...base, stream: 'stdout', line: SPOOF });
    print({ type: 'skill_output', ...base, stream: 'stderr', line: SPOOF });
    for (const text of [stdout.text(), stderr.text()]) {
      // eslint-disable-next-line no-control-regex
      expect(text).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f\u202e]/);
      expect(text).toContain('\\x1b[1A');
    }
  });

  it("cannot print a line that looks like ours: ours are marked in a way a skill's cannot be", () => {
    const stderr = terminal(true);
    const print = printForPeople({ stdout: terminal(true), stderr });
    print({ type: 'skill_output', ...base, stream: 'stderr', line: 'nanoclaw: github needs authorization' });
    print({
      type: 'auth_required',
      ...base,
      provider: 'github',
      scopes: [],
      connectUrl: 'http://127.0.0.1:3000/connect',
    });
    const [skillLine, ourLine] = stderr.text().split('\n');
    expect(ourLine).not.toBe(skillLine);
    // Our mark holds an escape sequence, which a skill's line can no longer contain.
    expect(ourLine?.startsWith('\x1b[')).toBe(true);
    expect(skillLine?.includes('\x1b')).toBe(false);
  });

  it('passes output through untouched when it is piped, not shown on a terminal', () => {
    const stdout = terminal(false);
    printForPeople({ stdout, stderr: terminal(false) })({
      type: 'skill_output',
      ...base,
      stream: 'stdout',
      line: 'col1\tcol2 \x1b[32mgreen\x1b[0m',
    });
    expect(stdout.text()).toBe('col1\tcol2 \x1b[32mgreen\x1b[0m\n');
  });
});

describe('neutralizeControls', () => {
  it('keeps text and tabs, and spells out every other control character', () => {
    expect(neutralizeControls('a\tb ü 日本')).toBe('a\tb ü 日本');
    expect(neutralizeControls('\x1b\r\x00\x7f\x9b\u2066')).toBe('\\x1b\\r\\x00\\x7f\\x9b\\u2066');
  });
});
