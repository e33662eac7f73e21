import { describeError, UsageError } from '../../errors.js';
import { Daemon } from '../../app/daemon.js';
import type { ContainerRuntime } from '../../sandbox/container-runtime.js';
import type { SkillCatalog } from '../../sandbox/skill-catalog.js';
import type { SkillRunner } from '../../sandbox/skill-runner.js';
import type { RouteModule } from '../../web/web-context.js';
import type { CommandResult } from '../command-result.js';
import { isTerminal } from '../output/terminal-text.js';
import { EXIT_OK } from '../../exit-codes.js';
import type { Runtime } from '../../app/runtime.js';
import { setUpSkills } from '../skills-setup.js';

export interface ServeCommandOptions {
  host?: string | undefined;
  port?: string | undefined;
  json?: boolean | undefined;
}

export interface ServeCommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** SIGINT / SIGTERM: shut down cleanly. */
  signal: AbortSignal;
}

export interface ServeDependencies {
  containers?: ContainerRuntime;
  extraRoutes?: readonly RouteModule[];
}

/** `--port`: a whole number from 0 (any free port) to 65535. */
export function parsePort(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new UsageError(`--port: expected a port number from 0 to 65535, got "${text.slice(0, 20)}"`);
  }
  return Number(text);
}

/** `--host`: any non-empty address. */
export function parseHost(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (text.trim() === '') throw new UsageError('--host: must not be empty');
  return text;
}

function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/**
 * `nanoclaw serve`: the page, the API, webhooks, the refresher and the watchers, until SIGINT or
 * SIGTERM. Prints where the page is and a one-time login link at start (with `--json`, one JSON line).
 */
export async function serveCommand(
  runtime: Runtime,
  options: ServeCommandOptions,
  io: ServeCommandIo,
  dependencies: ServeDependencies = {},
): Promise<CommandResult> {
  const port = parsePort(options.port);
  if (options.host !== undefined && options.host.trim() === '')
    throw new UsageError('--host: must not be empty');

  const { daemon } = await startDaemonWithSkills(runtime, io, {
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(port !== undefined ? { port } : {}),
    ...dependencies,
  });
  try {
    const loginUrl = options.json || isTerminal(io.stdout) ? daemon.createLoginLink() : null;
    const tokenFile = daemon.apiToken.file;
    if (options.json) {
      io.stdout.write(
        `${JSON.stringify({ type: 'listening', url: daemon.url, loginUrl, apiTokenFile: tokenFile })}\n`,
      );
    } else {
      const tokenSource = tokenFile ?? 'NANOCLAW_API_TOKEN';
      // A login link logs in whoever opens it first: it goes to a person's terminal, never to a log.
      const login = isTerminal(io.stdout)
        ? `Open the page with this one-time login link: ${loginUrl}`
        : 'Get a one-time login link for the page (this output is not a terminal, so none is printed): ' +
          `curl -s -X POST -H "Authorization: Bearer $(cat ${tokenFile ?? '<file holding NANOCLAW_API_TOKEN>'})" ` +
          `${daemon.url}/api/login-links`;
      io.stdout.write(
        [
          `nanoclaw is serving at ${daemon.url}`,
          login,
          `API clients: send "Authorization: Bearer <token>" with the token from ${tokenSource}`,
          'Press Ctrl-C to stop.',
          '',
        ].join('\n'),
      );
    }
    await waitForAbort(io.signal);
  } finally {
    await daemon.close();
  }
  return { exitCode: EXIT_OK, text: 'nanoclaw stopped.', json: { type: 'stopped' } };
}

export interface StartDaemonOptions extends ServeDependencies {
  host?: string;
  port?: number;
}

/** The daemon with its skills: catalog, runner (leftovers cleaned first), web app, refresher, watchers. */
export async function startDaemonWithSkills(
  runtime: Runtime,
  io: Pick<ServeCommandIo, 'stderr' | 'signal'>,
  options: StartDaemonOptions = {},
): Promise<{ daemon: Daemon; runner: SkillRunner; catalog: SkillCatalog }> {
  const { catalog, runner } = await setUpSkills(runtime, io, options);
  try {
    await runner.cleanupLeftovers(io.signal);
  } catch (error) {
    // No Docker is no reason not to serve tokens; runs will say what is wrong.
    const { code, message } = describeError(error);
    io.stderr.write(`warning: cannot clean up leftover skill containers (${code}): ${message}\n`);
  }
  const daemon = await Daemon.start({
    runtime,
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(options.port !== undefined ? { port: options.port } : {}),
    skills: { catalog, runner },
    ...(options.extraRoutes ? { extraRoutes: options.extraRoutes } : {}),
  });
  return { daemon, runner, catalog };
}
