import { parseAuthRequiredLine, type AuthRequest } from './auth-required-parser.js';
import type { OutputStream } from './container-runtime.js';
import { LineSplitter, type SplitLine } from './line-splitter.js';

export interface OutputWatchOptions {
  /** The providers this launch declares, with the scopes to ask for when a line names none. */
  declared: ReadonlyMap<string, readonly string[]>;
  /** Called once per provider, for the first AUTH_REQUIRED line that names it. */
  onPrompt: (request: AuthRequest) => Promise<void>;
  /** Every other line, in order, per stream. */
  onLine?: (stream: OutputStream, line: SplitLine) => void;
}

const encoder = new TextEncoder();

/**
 * Reads a container's output as it arrives, in chunks of any size, and turns the AUTH_REQUIRED lines
 * on stdout for declared providers into prompts, once per provider. Only stdout can ask: stderr lines
 * and lines cut at the length cap are plain output. Runs we start and containers a host starts itself
 * go through this one parser.
 */
export class OutputWatch {
  readonly #declared: ReadonlyMap<string, readonly string[]>;
  readonly #names: ReadonlySet<string>;
  readonly #onPrompt: OutputWatchOptions['onPrompt'];
  readonly #onLine: NonNullable<OutputWatchOptions['onLine']>;
  readonly #splitters: Record<OutputStream, LineSplitter> = {
    stdout: new LineSplitter(),
    stderr: new LineSplitter(),
  };
  readonly #prompts: AuthRequest[] = [];
  readonly #pending: Promise<void>[] = [];
  #ended = false;

  constructor(options: OutputWatchOptions) {
    this.#declared = options.declared;
    this.#names = new Set(options.declared.keys());
    this.#onPrompt = options.onPrompt;
    this.#onLine = options.onLine ?? (() => {});
  }

  /** The prompts seen so far, once per provider, in order. */
  get prompts(): readonly AuthRequest[] {
    return this.#prompts;
  }

  /** Feeds output; a string is taken as UTF-8. Ignored after `end`. */
  write(chunk: Uint8Array | string, stream: OutputStream = 'stdout'): void {
    if (this.#ended) return;
    const bytes = typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
    for (const line of this.#splitters[stream].push(bytes)) this.#take(stream, line);
  }

  /** Ends both streams: a last line without a newline still counts. Idempotent. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const stream of ['stdout', 'stderr'] as const) {
      for (const line of this.#splitters[stream].flush()) this.#take(stream, line);
    }
  }

  /** Resolves once every prompt seen so far has been announced (an announcement never rejects it). */
  async settled(): Promise<void> {
    await Promise.allSettled(this.#pending);
  }

  #take(stream: OutputStream, line: SplitLine): void {
    if (stream === 'stdout' && !line.truncated && this.#offer(line.text)) return;
    this.#onLine(stream, line);
  }

  /** True when the line is a prompt (announced now, or a repeat of one already announced). */
  #offer(text: string): boolean {
    const request = parseAuthRequiredLine(text, this.#names);
    if (request === null) return false;
    if (this.#prompts.some((seen) => seen.provider === request.provider)) return true;
    const scopes =
      request.scopes.length > 0 ? request.scopes : [...(this.#declared.get(request.provider) ?? [])];
    const prompt = { provider: request.provider, scopes };
    this.#prompts.push(prompt);
    this.#pending.push(this.#onPrompt(prompt));
    return true;
  }
}
