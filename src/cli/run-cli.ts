import { Readable } from 'node:stream';
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, describeError, NanoclawError, UsageError } from '../errors.js';
import type { CommandResult } from './command-result.js';
import type { ConfigOverrides } from '../config/resolve-config.js';
import { CONNECT_HELP } from './connect-help.js';
import { EXIT_CODES_HELP, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE } from '../exit-codes.js';
import { InterruptedError } from './interrupted-error.js';
import type { Runtime, RuntimeOptions } from '../app/runtime.js';

export interface CliIo {
  /** What `relay` copies through; none: an empty input. */
  stdin?: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Aborted on Ctrl-C / SIGTERM by the entry. */
  signal: AbortSignal;
}

interface GlobalOptions {
  config?: string;
  json?: boolean;
}

type CommandAction = (runtime: Runtime, io: CliIo) => Promise<CommandResult>;
/** A command that runs even when the configuration is invalid: it loads what it needs itself. */
type StandaloneAction = (io: CliIo, configPath: string | undefined) => Promise<CommandResult>;

// Each command's module (and what it needs: Docker, the web server, a token source's SDK) is loaded
// only when that command runs, so a `sync` or a `--help` starts as fast as Node itself.

/**
 * Parses argv and runs one command; returns the exit code. Commands return results and the printing
 * happens here, in one place (`--json` for scripts, tables for people).
 */
export async function runCli(
  argv: readonly string[],
  io: CliIo,
  runtimeOptions: RuntimeOptions = {},
): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    const { packageVersion } = await import('./version.js');
    io.stdout.write(`${await packageVersion()}\n`);
    return EXIT_OK;
  }
  let pending: { action: CommandAction; json: boolean; overrides?: () => Promise<ConfigOverrides> } | null =
    null;
  let standalone: { action: StandaloneAction; json: boolean } | null = null;
  const program = new Command()
    .name('nanoclaw')
    .description("Keeps users' OAuth tokens fresh for skills that run in containers.")
    .option('-c, --config <path>', 'config file (default: $NANOCLAW_CONFIG or ./nanoclaw.config.yaml)')
    .option('-V, --version', 'print the version and exit')
    .addHelpText('after', `\n${EXIT_CODES_HELP}\n`)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });

  const jsonOption = () => new Option('--json', 'print JSON for scripts (a stable shape, see the README)');
  const schedule = (command: Command, action: CommandAction, overrides?: () => Promise<ConfigOverrides>) => {
    const global = command.optsWithGlobals<GlobalOptions>();
    pending = { action, json: global.json ?? false, ...(overrides ? { overrides } : {}) };
  };

  program
    .command('sync')
    .description('pull fresh tokens from the token source into data/tokens/<owner>/<provider>.json')
    .argument('[provider...]', 'providers to sync (default: all configured)')
    .option('--owner <id>', 'owner to sync for (default: the configured owner, "main")')
    .option('--all-owners', 'sync every known owner')
    .option('--force', 'ask the source to refresh even fresh tokens')
    .addOption(jsonOption())
    .addHelpText('after', `\n${EXIT_CODES_HELP}\n  130  interrupted (Ctrl-C)\n`)
    .action(
      (
        providers: string[],
        options: { owner?: string; allOwners?: boolean; force?: boolean },
        command: Command,
      ) => {
        schedule(command, async (runtime, cliIo) => {
          const { syncCommand } = await import('./commands/sync.js');
          return syncCommand(runtime, { ...options, providers, signal: cliIo.signal });
        });
      },
    );

  program
    .command('status')
    .description('show each provider token on disk: state, expiry, last sync (asks no source)')
    .option('--owner <id>', 'owner to show (default: the configured owner)')
    .option('--all-owners', 'show every known owner')
    .addOption(jsonOption())
    .addHelpText('after', `\n${EXIT_CODES_HELP}\n`)
    .action((options: { owner?: string; allOwners?: boolean }, command: Command) => {
      schedule(command, async (runtime) => {
        const { statusCommand } = await import('./commands/status.js');
        return statusCommand(runtime, options);
      });
    });

  program
    .command('run')
    .description('run a skill in its container, streaming its output; prompts when it needs authorization')
    .argument('<skill>', 'skill name (a folder under skills/)')
    .argument('[args...]', 'arguments for the skill, after "--"')
    .option('--owner <id>', 'owner whose tokens the skill gets (default: the configured owner)')
    .addOption(new Option('--json', 'print every event as one JSON line, then a run_result line'))
    .addHelpText(
      'after',
      "\nThe skill's stdout and stderr stream to stdout and stderr; prompts go to stderr.\n" +
        `\n${EXIT_CODES_HELP}\n  130  interrupted (Ctrl-C); the container is stopped and removed\n`,
    )
    .action((skill: string, args: string[], options: { owner?: string }, command: Command) => {
      const json = command.optsWithGlobals<GlobalOptions>().json ?? false;
      schedule(command, async (runtime, cliIo) => {
        const { runCommand } = await import('./commands/run.js');
        return runCommand(runtime, { skill, args, owner: options.owner, json }, cliIo);
      });
    });

  program
    .command('relay')
    .description(
      "pass another runner's container output through, turning its AUTH_REQUIRED lines into prompts",
    )
    .requiredOption('--owner <id>', 'owner the container runs for')
    .option(
      '--provider <name>',
      'a provider the container may ask for (repeatable)',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option('--skill <name>', 'names the container in prompts and events')
    .option('--exit-on-prompt', 'stop at the first prompt and exit 3')
    .addHelpText(
      'after',
      '\nStandard input is copied to standard output unchanged, e.g.\n' +
        '  docker logs -f agent | nanoclaw relay --owner alice --provider github\n' +
        'Prompts go to the daemon at NANOCLAW_URL (with NANOCLAW_API_TOKEN) when set, and its page\n' +
        'shows them; else the link to authorize is printed on standard error.\n' +
        '\nExit codes:\n  0    the input ended\n  2    usage or configuration errors\n' +
        '  3    a prompt was seen (with --exit-on-prompt)\n  130  interrupted (Ctrl-C)\n',
    )
    .action(
      (
        options: { owner: string; provider: string[]; skill?: string; exitOnPrompt?: boolean },
        command: Command,
      ) => {
        schedule(command, async (runtime, cliIo) => {
          const { relayCommand } = await import('./commands/relay.js');
          return relayCommand(
            runtime,
            {
              owner: options.owner,
              providers: options.provider,
              skill: options.skill,
              exitOnPrompt: options.exitOnPrompt,
            },
            {
              stdin: cliIo.stdin ?? Readable.from([]),
              stdout: cliIo.stdout,
              stderr: cliIo.stderr,
              signal: cliIo.signal,
            },
          );
        });
      },
    );

  program
    .command('skills')
    .description("list skills, their providers, and whether each owner's tokens are ready (asks no source)")
    .option('--owner <id>', 'owner to show (default: the configured owner)')
    .option('--all-owners', 'show every known owner')
    .addOption(jsonOption())
    .action((options: { owner?: string; allOwners?: boolean }, command: Command) => {
      schedule(command, async (runtime, cliIo) => {
        const { skillsCommand } = await import('./commands/skills.js');
        return skillsCommand(runtime, { ...options, signal: cliIo.signal });
      });
    });

  program
    .command('connect')
    .description(
      'authorize a provider for an owner from the terminal: prints a link to open, waits for the token',
    )
    .argument('<provider>', 'provider to connect (as named in nanoclaw.config.yaml)')
    .option('--owner <id>', 'owner to connect for (default: the configured owner, "main")')
    .option('--no-wait', 'print the link and exit without waiting for the token')
    .option('--timeout <seconds>', 'how long to wait for the owner to finish (default: 900)')
    .addOption(new Option('--json', 'print JSON lines: "authorize" with the link, then "result"'))
    .addHelpText('after', CONNECT_HELP)
    .action(
      (provider: string, options: { owner?: string; wait?: boolean; timeout?: string }, command: Command) => {
        const json = command.optsWithGlobals<GlobalOptions>().json ?? false;
        schedule(command, async (runtime, cliIo) => {
          const { connectCommand } = await import('./commands/connect.js');
          return connectCommand(runtime, { ...options, provider, json }, cliIo);
        });
      },
    );

  program
    .command('serve')
    .description('serve the page, the API and webhooks, and keep every token fresh until stopped')
    .option('--host <host>', 'address to listen on (default: config server.host, 127.0.0.1)')
    .option('--port <port>', 'port to listen on, 0 for any free one (default: config server.port, 3000)')
    .addOption(jsonOption())
    .addHelpText('after', '\nStops cleanly on Ctrl-C or SIGTERM (exit code 0).\n')
    .action((options: { host?: string; port?: string }, command: Command) => {
      const json = command.optsWithGlobals<GlobalOptions>().json ?? false;
      // --host/--port go into the configuration, so the public URL (OAuth redirects) follows them.
      schedule(
        command,
        async (runtime, cliIo) => {
          const { serveCommand } = await import('./commands/serve.js');
          return serveCommand(runtime, { ...options, json }, cliIo);
        },
        async () => {
          const { parseHost, parsePort } = await import('./commands/serve.js');
          return { host: parseHost(options.host), port: parsePort(options.port) };
        },
      );
    });

  program
    .command('store')
    .description('where grants, sign-ins, the Nango connection map and page sessions are kept')
    .command('migrate')
    .description(
      "copy this data folder's grants and Nango connection map into PostgreSQL (NANOCLAW_DATABASE_URL); safe to repeat",
    )
    .requiredOption('--to <store>', 'the store to move to: postgres')
    .option(
      '--force',
      'also copy back grants and connections deleted from PostgreSQL since an earlier run from this data folder',
    )
    .addOption(jsonOption())
    .addHelpText('after', `\n${EXIT_CODES_HELP}\n`)
    .action((options: { to: string; force?: boolean }, command: Command) => {
      schedule(command, async (runtime) => {
        const { storeMigrateCommand } = await import('./commands/store.js');
        return storeMigrateCommand(runtime, options);
      });
    });

  program
    .command('doctor')
    .description(
      'check Docker, images, the token source, the data folder, config and skills; say how to fix each problem',
    )
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nExit codes:\n  0    no check failed (warnings allowed)\n  1    some check failed\n',
    )
    .action((_options: unknown, command: Command) => {
      standalone = {
        json: command.optsWithGlobals<GlobalOptions>().json ?? false,
        action: async (cliIo, configPath) => {
          const { doctorCommand } = await import('./commands/doctor.js');
          return doctorCommand({ configPath, env: cliIo.env, cwd: cliIo.cwd, signal: cliIo.signal });
        },
      };
    });

  program
    .command('demo')
    .description(
      'the whole loop with no outside account: a local OAuth server, the page, and a skill that asks for a token',
    )
    .option('--port <port>', 'port for the page (default: any free one)')
    .option('--owner <id>', 'owner to run the demo skill for', 'main')
    .option('--exit-when-done', 'stop once the skill has run with its token (default: keep serving the page)')
    .addOption(new Option('--json', 'print events as JSON lines'))
    .addHelpText(
      'after',
      '\nNeeds a Docker engine. Its data lives in ./data/demo.\n\nExit codes:\n  0    the skill ran with its token\n  2    usage errors\n  130  interrupted (Ctrl-C)\n',
    )
    .action((options: { port?: string; owner?: string; exitWhenDone?: boolean }, command: Command) => {
      standalone = {
        json: command.optsWithGlobals<GlobalOptions>().json ?? false,
        action: async (cliIo) => {
          const { demoCommand } = await import('./commands/demo.js');
          return demoCommand(
            { ...options, json: command.optsWithGlobals<GlobalOptions>().json ?? false },
            cliIo,
          );
        },
      };
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    throw error;
  }
  if (standalone !== null) {
    const chosen = standalone as { action: StandaloneAction; json: boolean };
    try {
      const result = await chosen.action(io, program.opts<GlobalOptions>().config);
      printResult(result, chosen.json, io);
      return result.exitCode;
    } catch (error) {
      return reportFailure(error, chosen.json, io);
    }
  }
  if (pending === null) {
    program.outputHelp({ error: true });
    return EXIT_USAGE;
  }
  const { action, json, overrides } = pending as {
    action: CommandAction;
    json: boolean;
    overrides?: () => Promise<ConfigOverrides>;
  };
  const globals = program.opts<GlobalOptions>();

  let runtime: Runtime | null = null;
  try {
    const { createRuntime } = await import('../app/runtime.js');
    runtime = await createRuntime({
      ...runtimeOptions,
      configPath: globals.config,
      env: io.env,
      cwd: io.cwd,
      ...(overrides ? { overrides: await overrides() } : {}),
    });
    for (const warning of runtime.warnings) io.stderr.write(`warning: ${warning}\n`);
    const result = await action(runtime, io);
    printResult(result, json, io);
    return result.exitCode;
  } catch (error) {
    return reportFailure(error, json, io);
  } finally {
    await runtime?.close();
  }
}

/** Prints a command's result; a streaming command (run, demo) printed as it went and leaves both empty. */
function printResult(result: CommandResult, json: boolean, io: CliIo): void {
  if (json) {
    if (result.json !== undefined) io.stdout.write(`${JSON.stringify(result.json, null, 2)}\n`);
  } else if (result.text !== '') io.stdout.write(`${result.text}\n`);
}

/**
 * Codes of errors the user fixes in the command line, the configuration or a skill folder: an invalid
 * name, an unknown skill, an invalid manifest, a provider that is not configured (also one a skill
 * declares).
 */
const USAGE_ERROR_CODES: ReadonlySet<string> = new Set([
  'INVALID_NAME',
  'UNKNOWN_SKILL',
  'INVALID_MANIFEST',
  'UNKNOWN_PROVIDER',
]);

/** 2 for usage and configuration errors, 130 when the user interrupted the command, else 1. */
function exitCodeForFailure(error: unknown): number {
  if (error instanceof InterruptedError) return EXIT_INTERRUPTED;
  if (error instanceof ConfigError || error instanceof UsageError) return EXIT_USAGE;
  if (error instanceof NanoclawError && USAGE_ERROR_CODES.has(error.code)) return EXIT_USAGE;
  return EXIT_ERROR;
}

function reportFailure(thrown: unknown, json: boolean, io: CliIo): number {
  // Whatever broke once Ctrl-C was pressed (an aborted request, say) broke because of it.
  const error =
    io.signal.aborted && !(thrown instanceof InterruptedError)
      ? new InterruptedError('', { cause: thrown })
      : thrown;
  const described = describeError(error);
  if (json) {
    const body: Record<string, unknown> = { ...described };
    if (error instanceof ConfigError) body.problems = error.problems;
    io.stdout.write(`${JSON.stringify({ error: body }, null, 2)}\n`);
  } else if (error instanceof ConfigError) {
    io.stderr.write(
      `nanoclaw: invalid configuration (${described.code}):\n${error.problems.map((p) => `  ${p}`).join('\n')}\n`,
    );
  } else {
    io.stderr.write(`nanoclaw: ${described.message} (${described.code})\n`);
  }
  return exitCodeForFailure(error);
}
