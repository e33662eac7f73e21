import type { TokenSourceKind } from '../config/types.js';
import type { SyncResult } from '../tokens/sync-result.js';
import { exitCodeForSync, renderSyncResults } from './commands/sync.js';
import { EXIT_ERROR, EXIT_INTERRUPTED, EXIT_NEEDS_AUTH, EXIT_OK } from './exit-codes.js';
import { formatDuration, formatTime } from './output/table.js';

/** How one `nanoclaw connect` ended. */
export type ConnectOutcome =
  /** The owner authorized; `result` says what is on disk now. */
  | 'connected'
  /** `--no-wait`: the link was printed and nobody waited for it. */
  | 'not-waiting'
  /** The owner did not finish within `--timeout`. */
  | 'timeout'
  /** The sign-in came back without a token (denied, or a stale or foreign link). */
  | 'refused'
  | 'interrupted'
  /** A client-credentials provider: no owner to ask; `result` is the sync done instead. */
  | 'nothing-to-authorize';

/** Who answers the link: Nango's connect page, a running daemon, or this command's own server. */
export type LinkRoute = 'nango' | 'daemon' | 'temporary-server';

export interface AuthorizeLink {
  url: string;
  route: LinkRoute;
  /** When the link stops working, when that is known. */
  expiresAt: string | null;
}

/** Everything the two output forms are made from. */
export interface ConnectReport {
  provider: string;
  owner: string;
  source: TokenSourceKind;
  outcome: ConnectOutcome;
  link: AuthorizeLink | null;
  result: SyncResult | null;
  /** Where the owner's token file is (or will be). */
  tokenFile: string;
  timeoutMs: number;
  /** For `refused`: what the sign-in said. */
  refusal?: { code: string; message: string };
}

/** The first `--json` line: printed as soon as there is a link, so a script can open it. */
export interface AuthorizeJsonLine {
  type: 'authorize';
  provider: string;
  owner: string;
  source: TokenSourceKind;
  url: string;
  via: LinkRoute;
  expiresAt: string | null;
}

/** The last `--json` line. */
export interface ResultJsonLine {
  type: 'result';
  provider: string;
  owner: string;
  source: TokenSourceKind;
  outcome: ConnectOutcome;
  link: string | null;
  tokenFile: string;
  result: SyncResult | null;
  /** For `refused`: the sign-in's error code and message; otherwise null. */
  refusal: { code: string; message: string } | null;
}

/** 0 when the token is on disk (or nobody waited), 3 on timeout or a refused sign-in, 130 on Ctrl-C, else as `sync` would. */
export function exitCodeForConnect(report: Pick<ConnectReport, 'outcome' | 'result'>): number {
  switch (report.outcome) {
    case 'not-waiting':
      return EXIT_OK;
    case 'timeout':
    case 'refused':
      return EXIT_NEEDS_AUTH;
    case 'interrupted':
      return EXIT_INTERRUPTED;
    case 'connected':
    case 'nothing-to-authorize':
      return report.result ? exitCodeForSync([report.result]) : EXIT_ERROR;
  }
}

export function authorizeJsonLine(
  target: Pick<ConnectReport, 'provider' | 'owner' | 'source'>,
  link: AuthorizeLink,
): AuthorizeJsonLine {
  return {
    type: 'authorize',
    provider: target.provider,
    owner: target.owner,
    source: target.source,
    url: link.url,
    via: link.route,
    expiresAt: link.expiresAt,
  };
}

export function resultJsonLine(report: ConnectReport): ResultJsonLine {
  return {
    type: 'result',
    provider: report.provider,
    owner: report.owner,
    source: report.source,
    outcome: report.outcome,
    link: report.link?.url ?? null,
    tokenFile: report.tokenFile,
    result: report.result,
    refusal: report.refusal ?? null,
  };
}

/** The link and what to know about it, for people: the first line is the one to click. */
export function describeLink(
  target: Pick<ConnectReport, 'provider' | 'owner' | 'timeoutMs'>,
  link: AuthorizeLink,
): string[] {
  const lines = [`Open this link to connect ${target.provider} for owner ${target.owner}: ${link.url}`];
  switch (link.route) {
    case 'nango':
      lines.push(
        `It is Nango's connect page for ${target.provider} only` +
          (link.expiresAt ? `; it expires ${formatTime(link.expiresAt)}.` : '.'),
      );
      break;
    case 'daemon':
      lines.push(
        "It logs your browser in to the running nanoclaw daemon, then goes on to the provider's sign-in.",
        'It works only once: do not share it.',
      );
      break;
    case 'temporary-server':
      lines.push(
        "It logs your browser in to nanoclaw, then goes on to the provider's sign-in. It works only once.",
        `No nanoclaw daemon is running, so this command answers the sign-in at ${new URL(link.url).origin} ` +
          `while it waits (at most ${formatDuration(target.timeoutMs)}).`,
      );
      break;
  }
  return lines;
}

/** The closing text for people. */
export function renderConnectText(report: ConnectReport, now = Date.now()): string {
  const { provider, owner } = report;
  switch (report.outcome) {
    case 'connected': {
      const heading = report.result?.usable
        ? `${provider} is connected for owner ${owner}; the token is in ${report.tokenFile}.`
        : `${provider} is authorized for owner ${owner}, but no usable token is on disk yet.`;
      return report.result ? `${heading}\n\n${renderResultRow(report.result, now)}` : heading;
    }
    case 'nothing-to-authorize': {
      const heading = `${provider} uses client credentials: there is nothing for an owner to authorize. Synced it now.`;
      return report.result ? `${heading}\n\n${renderResultRow(report.result, now)}` : heading;
    }
    case 'not-waiting':
      return report.link?.route === 'nango'
        ? `Not waiting. Once the owner has connected, the daemon (through Nango's webhook) or ` +
            `"nanoclaw sync ${provider} --owner ${owner}" writes the token.`
        : 'Not waiting. The daemon writes the token as soon as the owner has authorized.';
    case 'timeout':
      return (
        `${provider} was not authorized for owner ${owner} within ${formatDuration(report.timeoutMs)}. ` +
        `Run "nanoclaw connect ${provider} --owner ${owner}" for a new link.`
      );
    case 'refused':
      return (
        `${provider} was not connected for owner ${owner}: ${report.refusal?.message ?? 'the sign-in failed'}. ` +
        `Run "nanoclaw connect ${provider} --owner ${owner}" to try again.`
      );
    case 'interrupted':
      return `Stopped before ${provider} was connected for owner ${owner}.`;
  }
}

/** One row in the columns of `nanoclaw sync`. */
export function renderResultRow(result: SyncResult, now: number): string {
  return renderSyncResults([result], now);
}
