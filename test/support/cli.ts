import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createLogger } from '../../src/log/logger.js';
import { runCli } from '../../src/cli/run-cli.js';

/**
 * Names the built CLI (`dist/bin/nanoclaw.js` or a test bundle of it): when set, `spawnCli` runs it,
 * as users do. The test run's global setup and the benchmarks set it.
 */
export const BUILT_CLI_ENV = 'NANOCLAW_TEST_CLI_BUNDLE';

/** The CLI entry, run through tsx as `npm run nanoclaw` does, when no built CLI is named. */
export const CLI_ENTRY = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
/** tsx's loader by absolute URL: `--import tsx` would resolve from the temporary working folder. */
export const TSX_LOADER = pathToFileURL(
  createRequire(import.meta.url)
    .resolve('tsx/package.json')
    .replace(/package\.json$/, 'dist/loader.mjs'),
).href;

export interface CliRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface CliRunOptions {
  cwd: string;
  /** The whole environment of the run (nothing is inherited but PATH). */
  env?: Record<string, string | undefined>;
  /** Kill the process after this long (a hung CLI fails the test instead of the suite). */
  timeoutMs?: number;
  /** Standard input, written whole then closed; none: no standard input. */
  input?: string | Uint8Array;
}

/** Node's arguments before nanoclaw's own: the built CLI when one is named, else the sources via tsx. */
export function cliNodeArgs(): string[] {
  const built = process.env[BUILT_CLI_ENV];
  return built ? [built] : ['--import', TSX_LOADER, CLI_ENTRY];
}

/** Runs `nanoclaw <args>` as a real process and collects its output and exit code. */
export function spawnCli(args: readonly string[], options: CliRunOptions): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...cliNodeArgs(), ...args], {
      cwd: options.cwd,
      env: { PATH: process.env.PATH, ...options.env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (signal) reject(new Error(`nanoclaw ${args.join(' ')} was killed by ${signal}\n${stderr}`));
      else resolve({ exitCode: code ?? -1, stdout, stderr });
    });
  });
}

class TextSink extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

/**
 * Runs the same command function in this process, with output and logs captured: quicker than a
 * process when a test runs many commands.
 */
export async function runCliInProcess(
  args: readonly string[],
  options: CliRunOptions & { signal?: AbortSignal },
): Promise<CliRun> {
  const stdout = new TextSink();
  const stderr = new TextSink();
  const env = options.env ?? {};
  const exitCode = await runCli(
    args,
    {
      stdout,
      stderr,
      env,
      cwd: options.cwd,
      signal: options.signal ?? new AbortController().signal,
    },
    { logger: createLogger({ level: env.NANOCLAW_LOG_LEVEL ?? 'info', destination: stderr }) },
  );
  return { exitCode, stdout: stdout.text, stderr: stderr.text };
}
