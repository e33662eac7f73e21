#!/usr/bin/env node
import { runCli } from './run-cli.js';

// The one place that decides how the process ends.
const controller = new AbortController();
const stop = () => {
  if (controller.signal.aborted) process.exit(130);
  controller.abort(new Error('interrupted'));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

try {
  process.exitCode = await runCli(process.argv.slice(2), {
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
