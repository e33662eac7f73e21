import type { CommandResult } from '../command-result.js';
import { connectBuiltin } from '../connect-builtin.js';
import type { ConnectFlow, FlowResult } from '../connect-flow.js';
import { connectNango } from '../connect-nango.js';
import { resolveConnectSettings, type ConnectFlags } from '../connect-options.js';
import {
  authorizeJsonLine,
  describeLink,
  exitCodeForConnect,
  renderConnectText,
  resultJsonLine,
  type AuthorizeLink,
  type ConnectReport,
} from '../connect-report.js';
import type { Runtime } from '../../app/runtime.js';

export type ConnectCommandOptions = ConnectFlags;

export interface ConnectCommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Ctrl-C: stop waiting, close what was started, exit 130. */
  signal: AbortSignal;
}

export interface ConnectDependencies {
  /** How often Nango's connection list is asked while waiting (default 2 s). */
  nangoPollIntervalMs?: number;
  /** How often the token file is looked at while a running daemon handles the callback (default 0.5 s). */
  tokenFilePollIntervalMs?: number;
}

/**
 * `nanoclaw connect <provider>`: authorizing from a terminal. Prints a link for the owner to open
 * (with `--json`, an `authorize` line), waits until the token is on disk (unless `--no-wait`), and
 * ends with the sync result (with `--json`, a `result` line). Never prints a token or a key.
 */
export async function connectCommand(
  runtime: Runtime,
  options: ConnectCommandOptions,
  io: ConnectCommandIo,
  dependencies: ConnectDependencies = {},
): Promise<CommandResult> {
  const settings = resolveConnectSettings(options, {
    providers: runtime.tokenSync.providers,
    defaultOwner: runtime.config.defaultOwner,
  });
  const { provider, owner } = settings;
  const target = { provider: provider.name, owner, source: provider.source, timeoutMs: settings.timeoutMs };
  let announced: AuthorizeLink | null = null;
  const flow: ConnectFlow = {
    runtime,
    settings,
    signal: io.signal,
    announce(link) {
      announced = link;
      io.stdout.write(
        settings.json
          ? `${JSON.stringify(authorizeJsonLine(target, link))}\n`
          : `${describeLink(target, link).join('\n')}\n`,
      );
    },
    note: (text) => io.stderr.write(`${text}\n`),
    pollIntervalMs: {
      nango: dependencies.nangoPollIntervalMs ?? 2_000,
      tokenFile: dependencies.tokenFilePollIntervalMs ?? 500,
    },
  };

  let ended: FlowResult;
  try {
    ended =
      provider.source === 'nango' ? await connectNango(flow, provider) : await connectBuiltin(flow, provider);
  } catch (error) {
    // Ctrl-C in the middle of a request: the aborted request is not the story, the interruption is.
    if (!io.signal.aborted) throw error;
    ended = { outcome: 'interrupted', link: announced, result: null };
  }

  const report: ConnectReport = {
    ...target,
    ...ended,
    tokenFile: runtime.folder.filePath(owner, provider.name),
  };
  const exitCode = exitCodeForConnect(report);
  if (settings.json) {
    // A JSON line like the `authorize` one, not the entry's indented document.
    io.stdout.write(`${JSON.stringify(resultJsonLine(report))}\n`);
    return { exitCode, text: '', json: undefined };
  }
  return { exitCode, text: renderConnectText(report), json: resultJsonLine(report) };
}

export { CONNECT_HELP } from '../connect-help.js';
