#!/usr/bin/env node
import { runCli } from './run-cli.js';

// The one place that decides how the process ends. The first Ctrl-C or SIGTERM asks the command to
// stop cleanly; the listeners are gone after it, so a second Ctrl-C ends the process at once.
const controller = new AbortController();
const stop = () => controller.abort(new Error('interrupted'));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

try {
  process.exitCode = await runCli(process.argv.slice(2), {
    // Only `relay` reads it; made on first use, as opening it has a cost.
    get stdin() {
      return process.stdin;
    },
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    signal: controller.signal,
  });
} catch (error) {
  process.stderr.write(
    `nanoclaw: unexpected failure: ${error instanceof Error ? error.message : 'unknown'}\n`,
  );
  process.exitCode = 1;
}
process.off('SIGINT', stop);
process.off('SIGTERM', stop);
