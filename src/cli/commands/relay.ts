import { once } from 'node:events';
import { isLoopbackHost, isSecureUrl } from '../../config/resolve-config.js';
import { describeError, UsageError } from '../../errors.js';
import { validateOwnerId, validateProviderName, validateSkillName } from '../../names.js';
import type { AuthRequest } from '../../sandbox/auth-required-parser.js';
import { AuthPrompter } from '../../sandbox/auth-prompter.js';
import { OutputWatch } from '../../sandbox/output-watch.js';
import type { CommandResult } from '../command-result.js';
import { postPrompt, readApiToken } from '../connect-daemon-client.js';
import { EXIT_NEEDS_AUTH, EXIT_OK } from '../../exit-codes.js';
import { InterruptedError } from '../interrupted-error.js';
import { markOwnLine } from '../output/terminal-text.js';
import type { Runtime } from '../../app/runtime.js';

export interface RelayCommandOptions {
  owner?: string | undefined;
  providers: readonly string[];
  skill?: string | undefined;
  exitOnPrompt?: boolean | undefined;
}

export interface RelayCommandIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  signal: AbortSignal;
}

/** Where prompts go: a running daemon (its page shows them), or a link on stderr. */
type PromptTarget = { kind: 'daemon'; url: string; token: string } | { kind: 'terminal' };

/**
 * `nanoclaw relay`: a pass-through for the output of a container someone else runs
 * (`docker logs -f agent | nanoclaw relay --owner alice --provider github`). Standard input goes to
 * standard output unchanged; AUTH_REQUIRED lines of the named providers become prompts, posted to
 * the daemon at NANOCLAW_URL when one is configured, else a link on standard error.
 */
export async function relayCommand(
  runtime: Runtime,
  options: RelayCommandOptions,
  io: RelayCommandIo,
): Promise<CommandResult> {
  const { config, tokenSync } = runtime;
  const owner = validateOwnerId(options.owner ?? config.defaultOwner);
  if (options.providers.length === 0) {
    throw new UsageError('name the providers the container may ask for: --provider <name> (repeatable)');
  }
  const providers = [...new Set(options.providers.map((name) => validateProviderName(name)))].map((name) =>
    tokenSync.provider(name),
  );
  const skill = options.skill === undefined ? null : validateSkillName(options.skill);
  const target = await promptTarget(runtime);
  const prompter = new AuthPrompter({
    tokenSync,
    sources: runtime.tokenSources,
    events: runtime.events,
    logger: runtime.logger,
  });

  // Our own lines carry a mark the relayed output cannot draw on a terminal.
  const say = (line: string) => io.stderr.write(`${markOwnLine(io.stderr, line)}\n`);
  const announce = async (request: AuthRequest): Promise<void> => {
    const link = await linkFor(request);
    say(
      link
        ? `${request.provider} needs authorization for owner ${owner}: ${link}`
        : `${request.provider} needs authorization for owner ${owner} (the token source gave no link: ` +
            'authorize it from the nanoclaw page)',
    );
  };
  const linkFor = async (request: AuthRequest): Promise<string | null> => {
    if (target.kind === 'daemon') {
      try {
        const answer = await postPrompt(
          target.url,
          target.token,
          { owner, provider: request.provider, scopes: request.scopes, skill },
          io.signal,
        );
        return answer.connectUrl;
      } catch (error) {
        if (io.signal.aborted) throw error;
        const { code, message } = describeError(error);
        say(`could not hand the prompt to the daemon (${code}: ${message}); here is the link instead`);
      }
    }
    return prompter.connectUrl(owner, request.provider, io.signal);
  };

  const watch = new OutputWatch({
    declared: new Map(providers.map((provider) => [provider.name, provider.scopes])),
    onPrompt: announce,
  });
  await copyThrough(io, watch, options.exitOnPrompt ?? false);
  watch.end();
  await watch.settled();
  if (io.signal.aborted) throw new InterruptedError();
  const prompted = watch.prompts.length > 0;
  return {
    exitCode: (options.exitOnPrompt ?? false) && prompted ? EXIT_NEEDS_AUTH : EXIT_OK,
    text: '',
    json: undefined,
  };
}

/**
 * The daemon named by NANOCLAW_URL, with the API token for it. The token never crosses a network in
 * clear text (https, or http on loopback only), and this machine's own `api-token` file goes only to
 * a daemon on this machine.
 */
async function promptTarget(runtime: Runtime): Promise<PromptTarget> {
  const url = runtime.config.server.daemonUrl;
  if (url === null) return { kind: 'terminal' };
  if (!isSecureUrl(url)) {
    throw new UsageError(
      `NANOCLAW_URL (${url}) must be https, or http on this machine's loopback: the API token would ` +
        'cross the network in clear text',
    );
  }
  const local = isLoopbackHost(new URL(url).hostname);
  const token = local
    ? await readApiToken(runtime.config.server.apiToken, runtime.config.dataDir)
    : runtime.config.server.apiToken;
  if (token === null) {
    throw new UsageError(
      `NANOCLAW_URL names a daemon (${url}) but there is no API token for it: set NANOCLAW_API_TOKEN`,
    );
  }
  return { kind: 'daemon', url, token };
}

/**
 * Copies standard input to standard output as it arrives, with back-pressure, feeding the watch;
 * stops at the end of the input, or at the first prompt with `--exit-on-prompt`.
 */
async function copyThrough(io: RelayCommandIo, watch: OutputWatch, exitOnPrompt: boolean): Promise<void> {
  let outputOpen = true;
  // A reader that went away (`| head`) ends the copy, not the watch: prompts still go out.
  const onOutputError = () => {
    outputOpen = false;
  };
  io.stdout.on('error', onOutputError);
  const stop = () => (io.stdin as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
  io.signal.addEventListener('abort', stop, { once: true });
  try {
    for await (const chunk of io.stdin) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      if (outputOpen && !io.stdout.write(bytes)) await drained(io.stdout, io.signal);
      watch.write(bytes);
      if ((exitOnPrompt && watch.prompts.length > 0) || io.signal.aborted) return;
    }
  } catch (error) {
    if (!io.signal.aborted) throw error;
  } finally {
    io.signal.removeEventListener('abort', stop);
    io.stdout.off('error', onOutputError);
  }
}

/** Waits until the output drains, fails or the command is interrupted; no listener outlives it. */
async function drained(output: NodeJS.WritableStream, signal: AbortSignal): Promise<void> {
  const done = new AbortController();
  const until = AbortSignal.any([signal, done.signal]);
  try {
    await Promise.race([once(output, 'drain', { signal: until }), once(output, 'error', { signal: until })]);
  } catch {
    // Aborted, or the output failed: either way the copy goes on to its end.
  } finally {
    done.abort();
  }
}
