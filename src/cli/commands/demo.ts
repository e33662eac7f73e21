import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveConfig } from '../../config/resolve-config.js';
import { ConfigError } from '../../errors.js';
import type { NanoclawEvent } from '../../events/types.js';
import { createLogger } from '../../log/logger.js';
import { validateOwnerId } from '../../names.js';
import type { ContainerRuntime } from '../../sandbox/container-runtime.js';
import type { RunResult } from '../../sandbox/skill-runner.js';
import { builtinCallbackUrl, builtinStartPath } from '../../sources/builtin/builtin-urls.js';
import { DEMO_PROVIDER, DEMO_USER } from '../../demo/demo-constants.js';
import { loadDemoOAuthServer } from '../../demo/load-demo-oauth-server.js';
import type { CommandResult } from '../command-result.js';
import { EXIT_INTERRUPTED, EXIT_OK } from '../../exit-codes.js';
import { choosePort } from '../free-port.js';
import { createRuntimeFromConfig } from '../../app/runtime.js';
import { exitCodeForRun, printForPeople, printJsonLine } from './run.js';
import { parsePort, startDaemonWithSkills } from './serve.js';

/** The skills that ship with nanoclaw (the demo skill among them), beside src/ and dist/. */
const BUNDLED_SKILLS_DIR = fileURLToPath(new URL('../../../skills', import.meta.url));
const DEMO_SKILL = 'demo';
/** Settings from the environment the demo honours; everything else is the demo's own. */
const DEMO_ENVIRONMENT = ['NANOCLAW_BASE_IMAGE', 'NANOCLAW_SANDBOX_NETWORK', 'NANOCLAW_LOG_LEVEL'] as const;

export interface DemoCommandOptions {
  port?: string | undefined;
  owner?: string | undefined;
  json?: boolean | undefined;
  /** Stop once the skill has run with its token, instead of serving on until Ctrl-C. */
  exitWhenDone?: boolean | undefined;
}

export interface DemoCommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
  cwd: string;
  signal: AbortSignal;
}

export interface DemoDependencies {
  containers?: ContainerRuntime;
}

/**
 * `nanoclaw demo`: the whole loop with no outside account. A local OAuth server (oidc-provider) on
 * loopback, the daemon and its page on the built-in source, and the demo skill: it asks for
 * authorization, the user approves, the token lands on disk, and the skill runs again and succeeds.
 */
export async function demoCommand(
  options: DemoCommandOptions,
  io: DemoCommandIo,
  dependencies: DemoDependencies = {},
): Promise<CommandResult> {
  const owner = validateOwnerId(options.owner ?? 'main');
  const port = await choosePort(parsePort(options.port) ?? 0);
  const publicUrl = `http://127.0.0.1:${port}`;
  const say = (line: string) => {
    if (!options.json) io.stdout.write(`${line}\n`);
  };
  const emit = (value: Record<string, unknown>) => {
    if (options.json) io.stdout.write(`${JSON.stringify(value)}\n`);
  };

  // Loaded here, not at the top: every other command would pay for oidc-provider at start-up.
  const { startDemoOAuthServer } = await loadDemoOAuthServer();
  const { demoProviderEntries } = await import('../../demo/demo-providers.js');
  await using oauthServer = await startDemoOAuthServer({
    redirectUris: [builtinCallbackUrl(publicUrl, DEMO_PROVIDER)],
  });
  const environment = Object.fromEntries(DEMO_ENVIRONMENT.map((name) => [name, io.env[name]]));
  const resolved = resolveConfig(
    {
      dataDir: path.resolve(io.cwd, 'data', 'demo'),
      skillsDir: BUNDLED_SKILLS_DIR,
      logLevel: 'error',
      server: { host: '127.0.0.1', port },
      providers: demoProviderEntries(oauthServer),
    },
    { env: environment, cwd: io.cwd, configPath: null },
  );
  if ('errors' in resolved) throw new ConfigError(resolved.errors);
  const { config } = resolved;
  const runtime = createRuntimeFromConfig(config, resolved.warnings, {
    logger: createLogger({ level: config.logLevel }),
  });

  try {
    const { daemon, runner } = await startDaemonWithSkills(runtime, io, {
      port,
      ...(dependencies.containers ? { containers: dependencies.containers } : {}),
    });
    try {
      const authorizeUrl = daemon.createLoginLink(builtinStartPath(DEMO_PROVIDER, owner));
      emit({
        type: 'demo_ready',
        url: daemon.url,
        loginUrl: daemon.createLoginLink(),
        issuer: oauthServer.issuer,
      });
      say(`nanoclaw demo: the built-in OAuth client against a local OAuth server, no account needed.`);
      say(`  OAuth server  ${oauthServer.issuer} (one-click sign-in as "${DEMO_USER.id}")`);
      say(`  token folder  ${path.join(config.tokensDir, owner)}`);
      say(`  the page      ${daemon.createLoginLink()}`);
      say('');
      say(`Running the "${DEMO_SKILL}" skill for owner ${owner}; it has no token yet...`);

      const printSkill = options.json ? printJsonLine(io) : printForPeople(io);
      const unsubscribe = runtime.events.subscribe((event: NanoclawEvent) => {
        if (event.type === 'auth_required' && event.provider === DEMO_PROVIDER) {
          emit({ ...event, authorizeUrl });
          say(`\n${event.provider} needs authorization for owner ${event.owner}.`);
          say(`Approve it in the page's dialog, or open this link: ${authorizeUrl}`);
          say('Waiting for the token...');
          return;
        }
        if (event.type === 'token_synced' && event.provider === DEMO_PROVIDER) {
          say(`Token synced for ${event.owner}/${event.provider}; it expires ${event.expiresAt ?? 'never'}.`);
        }
        printSkill(event);
      });

      let result: RunResult;
      try {
        const synced = waitForToken(runtime.events, owner, io.signal);
        result = await runner.run({ skill: DEMO_SKILL, owner, signal: io.signal });
        if (result.reason === 'auth_required') {
          const authorized = await synced.promise.then(
            () => true,
            () => false,
          );
          if (!authorized) {
            say('\nStopped before the demo was authorized.');
            return { exitCode: EXIT_INTERRUPTED, text: '', json: undefined };
          }
          say('\nRunning the skill again, now with its token...');
          result = await runner.run({ skill: DEMO_SKILL, owner, signal: io.signal });
        } else {
          synced.cancel();
        }
      } finally {
        unsubscribe();
      }
      const exitCode = exitCodeForRun(result);
      emit({ type: 'demo_result', ...result });
      if (exitCode === EXIT_OK) say('\nThe demo skill ran with a fresh token it never had to print.');
      if (!options.exitWhenDone && exitCode === EXIT_OK && !io.signal.aborted) {
        say(`The page stays up at ${daemon.url} (Ctrl-C to stop).`);
        await new Promise<void>((resolve) => {
          if (io.signal.aborted) resolve();
          else io.signal.addEventListener('abort', () => resolve(), { once: true });
        });
      }
      return { exitCode, text: '', json: undefined };
    } finally {
      await daemon.close();
    }
  } finally {
    await runtime.close();
  }
}

/** Resolves when the owner's demo token has been synced, or rejects when the demo is interrupted. */
function waitForToken(
  events: { subscribe(listener: (event: NanoclawEvent) => void): () => void },
  owner: string,
  signal: AbortSignal,
): { promise: Promise<void>; cancel(): void } {
  let unsubscribe = () => {};
  let onAbort = () => {};
  const promise = new Promise<void>((resolve, reject) => {
    onAbort = () => reject(new Error('interrupted before the demo was authorized'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    unsubscribe = events.subscribe((event) => {
      if (event.type === 'token_synced' && event.owner === owner && event.provider === DEMO_PROVIDER)
        resolve();
    });
  });
  const cancel = () => {
    unsubscribe();
    signal.removeEventListener('abort', onAbort);
  };
  promise.then(cancel, cancel);
  return { promise, cancel };
}
