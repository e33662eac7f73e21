import type { NanoclawEvent } from '../../events/types.js';
import { validateOwnerId } from '../../names.js';
import type { ContainerRuntime } from '../../sandbox/container-runtime.js';
import type { RunResult } from '../../sandbox/skill-runner.js';
import type { CommandResult } from '../command-result.js';
import { EXIT_INTERRUPTED, EXIT_NEEDS_AUTH, EXIT_TIMEOUT } from '../exit-codes.js';
import type { Runtime } from '../runtime.js';
import { setUpSkills } from '../skills-setup.js';

export { EXIT_INTERRUPTED } from '../exit-codes.js';

export interface RunCommandOptions {
  skill: string;
  owner?: string | undefined;
  json?: boolean | undefined;
  args?: readonly string[];
}

export interface RunCommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Ctrl-C: stops the container and leaves none behind. */
  signal: AbortSignal;
}

export interface RunCommandDependencies {
  containers?: ContainerRuntime;
  stopGraceSeconds?: number;
}

/**
 * `nanoclaw run <skill>`: runs one skill for one owner and streams it as it happens. The skill's
 * stdout goes to stdout and its stderr to stderr, so its output can be piped; our own notes (the
 * authorization prompt, a timeout) go to stderr. With `--json`, every event is one JSON line on
 * stdout, ending with a `run_result` line.
 */
export async function runCommand(
  runtime: Runtime,
  options: RunCommandOptions,
  io: RunCommandIo,
  dependencies: RunCommandDependencies = {},
): Promise<CommandResult> {
  const { config, events } = runtime;
  const owner = validateOwnerId(options.owner ?? config.defaultOwner);
  const { catalog, runner } = await setUpSkills(runtime, io, dependencies);
  catalog.get(options.skill);
  await runner.cleanupLeftovers(io.signal);

  const print = options.json ? printJsonLine(io) : printForPeople(io);
  const unsubscribe = events.subscribe(print);
  let result: RunResult;
  try {
    result = await runner.run({
      skill: options.skill,
      owner,
      args: options.args ?? [],
      signal: io.signal,
    });
  } finally {
    unsubscribe();
  }
  if (options.json) io.stdout.write(`${JSON.stringify({ type: 'run_result', ...result })}\n`);
  // Everything was streamed already: nothing is left for the entry to print.
  return { exitCode: exitCodeForRun(result), text: '', json: undefined };
}

/** The skill's code; 3 when it asked for authorization, 124 on timeout, 130 when interrupted. */
export function exitCodeForRun(result: RunResult): number {
  switch (result.reason) {
    case 'timeout':
      return EXIT_TIMEOUT;
    case 'aborted':
      return EXIT_INTERRUPTED;
    case 'auth_required':
      return EXIT_NEEDS_AUTH;
    default:
      return result.exitCode;
  }
}

export function printJsonLine(io: Pick<RunCommandIo, 'stdout'>) {
  return (event: NanoclawEvent) => {
    io.stdout.write(`${JSON.stringify(event)}\n`);
  };
}

export function printForPeople(io: Pick<RunCommandIo, 'stdout' | 'stderr'>) {
  return (event: NanoclawEvent) => {
    switch (event.type) {
      case 'skill_output':
        (event.stream === 'stdout' ? io.stdout : io.stderr).write(
          `${event.line}${event.truncated ? ' [line cut at 64 KiB]' : ''}\n`,
        );
        return;
      case 'auth_required':
        io.stderr.write(
          event.connectUrl
            ? `${event.provider} needs authorization for owner ${event.owner}: ${event.connectUrl}\n`
            : `${event.provider} needs authorization for owner ${event.owner} ` +
                '(the token source gave no link: authorize it from the nanoclaw page, then run again)\n',
        );
        return;
      case 'skill_exited':
        if (event.reason === 'timeout') {
          io.stderr.write(`nanoclaw: ${event.skill} ran past its timeout and was stopped\n`);
        } else if (event.reason === 'aborted') {
          io.stderr.write(`nanoclaw: ${event.skill} was stopped\n`);
        } else if (event.reason === 'failed') {
          io.stderr.write(`nanoclaw: lost track of the ${event.skill} container; it was removed\n`);
        }
        return;
      default:
        return;
    }
  };
}
