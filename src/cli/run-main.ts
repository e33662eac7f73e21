import { Writable } from 'node:stream';
import { EXIT_ERROR, EXIT_INTERRUPTED, EXIT_PIPE_CLOSED } from '../exit-codes.js';
import { runCli } from './run-cli.js';

/**
 * The one place that decides how the process ends. The first Ctrl-C or SIGTERM asks the command to
 * stop cleanly; a second one ends the process at once, by the signal. When whoever reads the output
 * goes away (`nanoclaw status | head -1`), the command is stopped the same way and nothing more is
 * printed; a command stopped by it exits with the code a shell reports for a closed pipe, one that
 * had finished keeps its own. Whatever else goes wrong reaches the user as one line, never as a stack
 * trace.
 */
export async function runMain(): Promise<void> {
  const controller = new AbortController();
  let interrupted = false;
  // Listening until the end, not once: signal-exit (loaded later by whatever writes files) re-raises
  // a signal that nobody else listens to, which would end the process before the command stopped.
  const stop = (signal: NodeJS.Signals) => {
    if (interrupted) {
      removeSignalListeners();
      process.kill(process.pid, signal);
      return;
    }
    interrupted = true;
    controller.abort(new Error('interrupted'));
  };
  const removeSignalListeners = () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  };
  let outputClosed = false;
  const onOutputError = () => {
    outputClosed = true;
    controller.abort(new Error('output closed'));
  };
  const onCrash = (error: unknown) => {
    if (!outputClosed) process.stderr.write(`nanoclaw: unexpected failure: ${messageOf(error)}\n`);
    process.exit(outputClosed ? EXIT_PIPE_CLOSED : EXIT_ERROR);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stdout.on('error', onOutputError);
  process.stderr.on('error', onOutputError);
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);

  let exitCode: number;
  try {
    exitCode = await runCli(process.argv.slice(2), {
      // Only `relay` reads it; made on first use, as opening it has a cost.
      get stdin() {
        return process.stdin;
      },
      stdout: whileOpen(process.stdout, () => outputClosed),
      stderr: whileOpen(process.stderr, () => outputClosed),
      env: process.env,
      cwd: process.cwd(),
      signal: controller.signal,
    });
  } catch (error) {
    if (!outputClosed) process.stderr.write(`nanoclaw: unexpected failure: ${messageOf(error)}\n`);
    exitCode = EXIT_ERROR;
  }
  process.exitCode =
    outputClosed && !interrupted && exitCode === EXIT_INTERRUPTED ? EXIT_PIPE_CLOSED : exitCode;
  removeSignalListeners();
  // The command is over and has said so; its work (writes, shutdown) was awaited. A socket a library
  // keeps alive must not keep the process waiting: past a short grace it ends with the same code.
  setTimeout(() => process.exit(), LINGER_MS).unref();
}

/** How long a finished command may wait for its last handles to close by themselves. */
const LINGER_MS = 2_000;

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : 'unknown';
}

/** Passes writes on to `target` until the output has closed, then drops them. */
function whileOpen(target: NodeJS.WriteStream, closed: () => boolean): NodeJS.WritableStream {
  return new Writable({
    write(chunk: Buffer | string, encoding, callback) {
      // Handed on at once, not after the flush: the order and the stream's own buffering stay as they were.
      if (!closed() && !target.destroyed) target.write(chunk, encoding);
      callback();
    },
  });
}
