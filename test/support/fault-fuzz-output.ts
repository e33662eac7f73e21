import { createHash, type Hash } from 'node:crypto';
import { MAX_LINE_BYTES } from '../../src/sandbox/line-splitter.js';
import type { SeededRandom } from './fault-random.js';

/**
 * Fuzzed skill output and its oracle, for the output fault test: random bytes, near misses of the
 * AUTH_REQUIRED line, undeclared providers, huge lines, CR/LF mixes and multi-byte characters, cut
 * into chunks at random places; and an independent reference that says, from the bytes alone,
 * which lines a runner must report, what text, and which prompts.
 */

/** The providers the fuzzed skill declares, with their scopes. */
export const FUZZ_DECLARED: Readonly<Record<string, readonly string[]>> = {
  github: ['repo'],
  'google-calendar': ['calendar'],
};

export type FuzzStream = 'stdout' | 'stderr';

export interface FuzzChunk {
  stream: FuzzStream;
  data: Buffer;
}

const DECLARED = Object.keys(FUZZ_DECLARED);
const UNDECLARED = [
  'slack',
  'GitHub',
  'github2',
  'google',
  'gi thub',
  '../github',
  'github/../x',
  '',
  'GITHUB',
];
const SCOPES = ['repo', 'read:user', 'https://www.googleapis.com/auth/calendar', 'a!b', '~x'];
const WORDS = [
  'token',
  'synced',
  'ok',
  'events:',
  '12',
  'AUTH',
  'REQUIRED',
  'github',
  ':',
  'calendar',
  '{"a":1}',
];
const MULTIBYTE = ['é', 'ß', '日本語', '🙂', '\u2028', '\uFEFF', 'ı', '：'];

/** Lines that look like a prompt and are not one, by the contract. */
function nearMiss(random: SeededRandom): string {
  const p = random.pick(DECLARED);
  const u = random.pick(UNDECLARED);
  const variants = [
    `AUTH_REQUIRED:${u}`,
    `AUTH_REQUIRED:${u}:repo`,
    ` AUTH_REQUIRED:${p}`,
    `AUTH_REQUIRED:${p} `,
    `\tAUTH_REQUIRED:${p}`,
    `auth_required:${p}`,
    `Auth_Required:${p}`,
    `AUTH_REQUIRED ${p}`,
    `AUTH_REQUIRED=${p}`,
    `AUTH_REQUIRED::${p}`,
    `AUTH_REQUIRED:${p}:`,
    `AUTH_REQUIRED:${p}:repo,`,
    `AUTH_REQUIRED:${p}:,repo`,
    `AUTH_REQUIRED:${p}:re po`,
    `AUTH_REQUIRED:${p}:repoé`,
    `AUTH_REQUIRED:${p}\u0000`,
    `AUTH_REQUIRED:${p}\u001b[0m`,
    `xAUTH_REQUIRED:${p}`,
    `AUTH_REQUIRED:${p}AUTH_REQUIRED:${p}`,
    `AUTH_REQUIRED:${p}\rAUTH_REQUIRED:slack`,
    `\uFEFFAUTH_REQUIRED:${p}`,
    `AUTH_REQUIRED:${p.toUpperCase()}`,
    `AUTH_REQUIRED:${p}\r\r\r`,
    `AUTH_REQUIRED:gıthub`,
    `AUTH_REQUIRED：${p}`,
    `AUTH_REQUIRED:${p}:${'s'.repeat(70)} x`,
    `AUTH_REQUIRED`,
    `AUTH_REQUIRED:`,
  ];
  return random.pick(variants);
}

/** A prompt the contract accepts, for a declared provider. */
function validPrompt(random: SeededRandom, provider: string): string {
  const scopes =
    random.next() < 0.5 ? [] : Array.from({ length: random.int(1, 3) }, () => random.pick(SCOPES));
  return `AUTH_REQUIRED:${provider}${scopes.length > 0 ? `:${scopes.join(',')}` : ''}`;
}

function textLine(random: SeededRandom): string {
  const parts: string[] = [];
  const count = random.int(0, 20);
  for (let index = 0; index < count; index++) {
    parts.push(random.next() < 0.15 ? random.pick(MULTIBYTE) : random.pick(WORDS));
  }
  return parts.join(random.next() < 0.8 ? ' ' : '');
}

function hugeLine(random: SeededRandom): Buffer {
  const length = random.pick([
    MAX_LINE_BYTES - 1,
    MAX_LINE_BYTES,
    MAX_LINE_BYTES + 1,
    random.int(MAX_LINE_BYTES + 2, 300_000),
    random.int(300_000, 1_100_000),
  ]);
  const body =
    random.next() < 0.5 ? random.bytes(length) : Buffer.alloc(length, random.pick(['a', ' ', 'é']));
  // One line: its newlines become spaces.
  for (let index = body.indexOf(0x0a); index !== -1; index = body.indexOf(0x0a, index + 1))
    body[index] = 0x20;
  if (random.next() < 0.3) Buffer.from('AUTH_REQUIRED:github').copy(body);
  return body;
}

function ending(random: SeededRandom): string {
  const roll = random.next();
  if (roll < 0.6) return '\n';
  if (roll < 0.9) return '\r\n';
  if (roll < 0.95) return '\r\r\n';
  return '\n\r';
}

export interface FuzzPlan {
  lines: number;
  /** Planted valid prompts: provider per line index, on stdout. */
  planted: Map<number, string>;
  /** About one line in this many is huge (past the 64 KiB cap or right at it). */
  hugeEvery: number;
}

/** Plants a few real prompts among `lines` lines: one to three for github, one for google-calendar if asked. */
export function planRun(
  random: SeededRandom,
  lines: number,
  withCalendar: boolean,
  hugeEvery: number,
): FuzzPlan {
  const planted = new Map<number, string>();
  for (let count = random.int(1, 3); count > 0; count--) planted.set(random.int(0, lines - 1), 'github');
  if (withCalendar) planted.set(random.int(0, lines - 1), 'google-calendar');
  return { lines, planted, hugeEvery };
}

/** One fuzzed line: its stream and bytes, ending included. */
export function* fuzzLines(random: SeededRandom, plan: FuzzPlan): Generator<FuzzChunk> {
  for (let index = 0; index < plan.lines; index++) {
    const planted = plan.planted.get(index);
    if (planted) {
      yield {
        stream: 'stdout',
        // A newline first: the line before may have ended in "\n\r", which would put a CR before it.
        data: Buffer.from(`\n${validPrompt(random, planted)}${random.pick(['\n', '\r\n'])}`),
      };
      continue;
    }
    const stream: FuzzStream = random.next() < 0.85 ? 'stdout' : 'stderr';
    const roll = random.next();
    let body: Buffer;
    if (random.int(1, plan.hugeEvery) === 1) body = hugeLine(random);
    else if (roll < 0.3) body = Buffer.from(textLine(random));
    else if (roll < 0.55) body = random.bytes(random.int(0, 300));
    else if (roll < 0.85) body = Buffer.from(nearMiss(random));
    else if (roll < 0.9)
      body = Buffer.from(validPrompt(random, random.pick(DECLARED))).subarray(0, random.int(0, 20));
    else if (roll < 0.95 && stream === 'stderr')
      body = Buffer.from(validPrompt(random, random.pick(DECLARED)));
    else body = Buffer.alloc(0);
    // The last line of a run sometimes has no newline at all (the stream just ends).
    const end = index === plan.lines - 1 && random.next() < 0.5 ? '' : ending(random);
    yield { stream, data: Buffer.concat([body, Buffer.from(end)]) };
  }
}

/**
 * Cuts lines into chunks at random places, each stream's bytes in order, the two streams
 * interleaved: 1-3 byte chunks now and then, so CR LF pairs and UTF-8 characters get split.
 */
export function* chunked(random: SeededRandom, lines: Iterable<FuzzChunk>): Generator<FuzzChunk> {
  const pending: Record<FuzzStream, Buffer[]> = { stdout: [], stderr: [] };
  const sizes: Record<FuzzStream, number> = { stdout: 0, stderr: 0 };
  const take = (stream: FuzzStream, size: number): FuzzChunk => {
    const queue = pending[stream];
    const parts: Buffer[] = [];
    let need = size;
    while (need > 0 && queue.length > 0) {
      const head = queue[0]!;
      if (head.length <= need) {
        parts.push(head);
        queue.shift();
        need -= head.length;
      } else {
        parts.push(head.subarray(0, need));
        queue[0] = head.subarray(need);
        need = 0;
      }
    }
    sizes[stream] -= size - need;
    return { stream, data: parts.length === 1 ? parts[0]! : Buffer.concat(parts) };
  };
  const size = () => (random.next() < 0.1 ? random.int(1, 3) : random.int(1, 16_384));
  for (const line of lines) {
    pending[line.stream].push(line.data);
    sizes[line.stream] += line.data.length;
    for (const stream of ['stdout', 'stderr'] as const) {
      for (let want = size(); sizes[stream] >= want; want = size()) yield take(stream, want);
    }
  }
  for (const stream of ['stdout', 'stderr'] as const) {
    while (sizes[stream] > 0) yield take(stream, size());
  }
}

export interface ExpectedPrompt {
  provider: string;
  scopes: string[];
}

// The contract: alone on its line, a declared provider, optional comma-separated visible-ASCII
// scopes, and a line ending of \n or \r\n. A second CR is tolerated as well: the line splitter
// strips the CR of \r\n and the parser one more, so `AUTH_REQUIRED:github\r\r` still prompts (for
// the same declared provider and scopes; see the fault test).
const PROMPT = new RegExp(
  `^AUTH_REQUIRED:(${DECLARED.map((name) => name.replace(/[.-]/g, '\\$&')).join('|')})` +
    '(?::([\\x21-\\x2b\\x2d-\\x7e]+(?:,[\\x21-\\x2b\\x2d-\\x7e]+)*))?\\r{0,2}$',
);

/** Per stream: how many lines, and a digest of every line's text and truncation, in order. */
export class LineDigest {
  lines = 0;
  truncated = 0;
  readonly #hash: Hash = createHash('sha256');

  add(text: string, truncated: boolean): void {
    this.lines++;
    if (truncated) this.truncated++;
    this.#hash.update(text).update(truncated ? '\u0000T\n' : '\u0000F\n');
  }

  digest(): string {
    return this.#hash.copy().digest('hex');
  }
}

/**
 * The reference: splits the same bytes into lines its own way (holding at most the cap plus one
 * byte of a line), and says what a runner must report. Written from the contract, not from the
 * line splitter's code.
 */
export class OutputOracle {
  readonly output: Record<FuzzStream, LineDigest> = { stdout: new LineDigest(), stderr: new LineDigest() };
  readonly prompts: ExpectedPrompt[] = [];
  promptLines = 0;
  inputBytes = 0;
  readonly #line: Record<FuzzStream, { head: Buffer[]; headBytes: number; length: number }> = {
    stdout: { head: [], headBytes: 0, length: 0 },
    stderr: { head: [], headBytes: 0, length: 0 },
  };

  feed(chunk: FuzzChunk): void {
    this.inputBytes += chunk.data.length;
    let start = 0;
    for (;;) {
      const newline = chunk.data.indexOf(0x0a, start);
      this.#append(chunk.stream, chunk.data.subarray(start, newline === -1 ? chunk.data.length : newline));
      if (newline === -1) return;
      this.#endLine(chunk.stream);
      start = newline + 1;
    }
  }

  /** The streams ended: a last line without newline still counts. */
  end(): void {
    for (const stream of ['stdout', 'stderr'] as const)
      if (this.#line[stream].length > 0) this.#endLine(stream);
  }

  #append(stream: FuzzStream, piece: Buffer): void {
    const line = this.#line[stream];
    line.length += piece.length;
    const room = MAX_LINE_BYTES + 1 - line.headBytes;
    if (room > 0 && piece.length > 0) {
      const kept = Buffer.from(piece.subarray(0, room));
      line.head.push(kept);
      line.headBytes += kept.length;
    }
  }

  #endLine(stream: FuzzStream): void {
    const line = this.#line[stream];
    const bytes = Buffer.concat(line.head, line.headBytes);
    const length = line.length;
    this.#line[stream] = { head: [], headBytes: 0, length: 0 };
    if (length > MAX_LINE_BYTES) {
      this.output[stream].add(bytes.subarray(0, MAX_LINE_BYTES).toString('utf8'), true);
      return;
    }
    const match = stream === 'stdout' ? PROMPT.exec(bytes.toString('latin1')) : null;
    if (match) {
      this.promptLines++;
      const provider = match[1]!;
      if (!this.prompts.some((prompt) => prompt.provider === provider)) {
        this.prompts.push({
          provider,
          scopes: match[2] ? match[2].split(',') : [...FUZZ_DECLARED[provider]!],
        });
      }
      return;
    }
    const text = bytes.at(-1) === 0x0d ? bytes.subarray(0, -1) : bytes;
    this.output[stream].add(text.toString('utf8'), false);
  }
}
