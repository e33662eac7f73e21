import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { isSecureUrl } from '../config/resolve-config.js';
import type { ServerSettings } from '../config/types.js';
import { NanoclawError } from '../errors.js';
import { API_TOKEN_FILE } from '../web/auth/api-token.js';

/** A daemon that answers has a few seconds; one that does not is not one to rely on. */
const REQUEST_TIMEOUT_MS = 5_000;
/** A prompt waits for the token source's link (10 s at most in the daemon). */
const PROMPT_TIMEOUT_MS = 15_000;

/** A daemon answered, but not as one of ours should. */
export class DaemonClientError extends NanoclawError {
  constructor(
    code: 'DAEMON_REFUSED' | 'DAEMON_REQUEST_FAILED',
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(code, message, options);
  }
}

/** What answers at the daemon's address. */
export type DaemonProbe =
  /** Our daemon: it accepted our API token. */
  | { kind: 'ours' }
  /** Nothing we can use: no listener, or one that fails (a proxy whose daemon is down). */
  | { kind: 'none' }
  /** A server that refuses our API token: another daemon (another data folder), or not ours at all. */
  | { kind: 'refused'; status: number };

/** What an HTTP status from `GET /api/status` says about who answers. */
export function classifyProbe(status: number): DaemonProbe {
  if (status === 200) return { kind: 'ours' };
  if (status === 401 || status === 403) return { kind: 'refused', status };
  return { kind: 'none' };
}

/**
 * Where to reach a running daemon from this machine: its public URL when the API token may travel
 * there (https, or http on loopback), else the address it listens on, so the token never crosses a
 * network in clear text.
 */
export function localDaemonUrl(server: Pick<ServerSettings, 'host' | 'port' | 'publicUrl'>): string {
  if (isSecureUrl(server.publicUrl)) return server.publicUrl.replace(/\/+$/, '');
  const reachable = server.host === '0.0.0.0' ? '127.0.0.1' : server.host === '::' ? '::1' : server.host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${server.port}`;
}

/** The daemon's API token as `serve` uses it (NANOCLAW_API_TOKEN, else `<dataDir>/api-token`); null when there is none yet. */
export async function readApiToken(configured: string | null, dataDir: string): Promise<string | null> {
  if (configured !== null) return configured;
  try {
    const token = (await readFile(path.join(dataDir, API_TOKEN_FILE), 'utf8')).trim();
    return token === '' ? null : token;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function requestSignal(signal: AbortSignal): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]);
}

function authorization(token: string | null): Record<string, string> {
  return token === null ? {} : { authorization: `Bearer ${token}` };
}

/** `GET <daemon>/api/status` with the API token: is our daemon there? */
export async function probeDaemon(
  baseUrl: string,
  token: string | null,
  signal: AbortSignal,
): Promise<DaemonProbe> {
  let response: Response;
  try {
    response = await fetch(`${baseUrl}/api/status`, {
      headers: authorization(token),
      redirect: 'manual',
      signal: requestSignal(signal),
    });
  } catch (error) {
    if (signal.aborted) throw error;
    // Nobody listens (or nobody answers in time): there is no daemon to ask.
    return { kind: 'none' };
  }
  await response.body?.cancel();
  return classifyProbe(response.status);
}

const loginLinkAnswer = z.object({ url: z.url({ protocol: /^https?$/ }) });

/** `POST <daemon>/api/login-links {next}`: a one-time link that logs a browser in and goes on to `next`. */
export async function requestLoginLink(
  baseUrl: string,
  token: string,
  next: string,
  signal: AbortSignal,
): Promise<string> {
  let response: Response;
  try {
    response = await fetch(`${baseUrl}/api/login-links`, {
      method: 'POST',
      headers: { ...authorization(token), 'content-type': 'application/json' },
      body: JSON.stringify({ next }),
      redirect: 'manual',
      signal: requestSignal(signal),
    });
  } catch (error) {
    if (signal.aborted) throw error;
    throw new DaemonClientError(
      'DAEMON_REQUEST_FAILED',
      `the daemon at ${baseUrl} did not answer for a login link`,
      {
        cause: error,
      },
    );
  }
  const body: unknown = await response.json().catch(() => null);
  const parsed = loginLinkAnswer.safeParse(body);
  if (response.status !== 201 || !parsed.success) {
    throw new DaemonClientError(
      'DAEMON_REQUEST_FAILED',
      `the daemon at ${baseUrl} gave no login link (HTTP ${response.status}): is it an older nanoclaw?`,
    );
  }
  return parsed.data.url;
}

/** What a client asks the daemon to prompt for: `POST /api/prompts`. */
export interface PromptRequest {
  owner: string;
  provider: string;
  scopes: readonly string[];
  skill: string | null;
}

const promptAnswer = z.object({ type: z.literal('auth_required'), connectUrl: z.string().nullable() });

/** `POST <daemon>/api/prompts`: the daemon raises the prompt (its page shows it); answers its link. */
export async function postPrompt(
  baseUrl: string,
  token: string,
  prompt: PromptRequest,
  signal: AbortSignal,
): Promise<{ connectUrl: string | null }> {
  let response: Response;
  try {
    response = await fetch(`${baseUrl}/api/prompts`, {
      method: 'POST',
      headers: { ...authorization(token), 'content-type': 'application/json' },
      body: JSON.stringify({
        owner: prompt.owner,
        provider: prompt.provider,
        ...(prompt.scopes.length > 0 ? { scopes: prompt.scopes } : {}),
        ...(prompt.skill !== null ? { skill: prompt.skill } : {}),
      }),
      redirect: 'manual',
      // The daemon waits for the token source's link, which may take a while.
      signal: AbortSignal.any([signal, AbortSignal.timeout(PROMPT_TIMEOUT_MS)]),
    });
  } catch (error) {
    if (signal.aborted) throw error;
    throw new DaemonClientError('DAEMON_REQUEST_FAILED', `the daemon at ${baseUrl} did not answer`, {
      cause: error,
    });
  }
  const body: unknown = await response.json().catch(() => null);
  const parsed = promptAnswer.safeParse(body);
  if (response.status === 401 || response.status === 403) {
    throw new DaemonClientError('DAEMON_REFUSED', `the daemon at ${baseUrl} refused our API token`);
  }
  if (response.status !== 200 || !parsed.success) {
    throw new DaemonClientError(
      'DAEMON_REQUEST_FAILED',
      `the daemon at ${baseUrl} did not take the prompt (HTTP ${response.status})`,
    );
  }
  return { connectUrl: parsed.data.connectUrl };
}
