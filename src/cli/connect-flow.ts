import type { SyncResult } from '../tokens/sync-result.js';
import type { ConnectSettings } from './connect-options.js';
import type { AuthorizeLink, ConnectOutcome } from './connect-report.js';
import type { Runtime } from '../app/runtime.js';

/** What a source's connect flow gets: the runtime, the checked flags, Ctrl-C, and where to speak. */
export interface ConnectFlow {
  runtime: Runtime;
  settings: ConnectSettings;
  /** Ctrl-C. */
  signal: AbortSignal;
  /** Hands the link out, once, as soon as there is one (before any waiting). */
  announce(link: AuthorizeLink): void;
  /** A line for people while waiting; silent with `--json`. */
  note(text: string): void;
  /** How often to look for the result: Nango's connection list, or the token file. */
  pollIntervalMs: { nango: number; tokenFile: number };
}

/** How a flow ended; the command adds who and what to make the report. */
export interface FlowResult {
  outcome: ConnectOutcome;
  link: AuthorizeLink | null;
  result: SyncResult | null;
  /** For `refused`: what the sign-in said. */
  refusal?: { code: string; message: string };
}
