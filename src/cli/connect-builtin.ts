import type { BuiltinProviderConfig } from '../config/types.js';
import { explicitPublicUrl } from '../app/daemon.js';
import { UsageError } from '../errors.js';
import { isUnexpired } from '../tokens/freshness.js';
import { generateApiToken } from '../web/auth/api-token.js';
import { builtinStartPath } from '../sources/builtin/builtin-urls.js';
import { WebApp } from '../web/web-app.js';
import {
  DaemonClientError,
  localDaemonUrl,
  probeDaemon,
  readApiToken,
  requestLoginLink,
} from './connect-daemon-client.js';
import type { ConnectFlow, FlowResult } from './connect-flow.js';
import type { AuthorizeLink } from './connect-report.js';
import { pollUntil } from './connect-wait.js';
import { formatDuration } from './output/table.js';

/**
 * Connects a built-in provider. Client credentials need no owner: the token is synced now. For the
 * authorization code grant the provider sends the browser back to `<publicUrl>/auth/oauth/...`, so
 * a daemon must answer there: the running one when there is one (it makes the login link), else a
 * server this command starts for as long as it waits.
 */
export async function connectBuiltin(
  flow: ConnectFlow,
  provider: BuiltinProviderConfig,
): Promise<FlowResult> {
  const { runtime, settings, signal } = flow;
  if (provider.grant === 'client_credentials') {
    const result = await runtime.tokenSync.sync(settings.owner, provider.name, { force: true, signal });
    return { outcome: 'nothing-to-authorize', link: null, result };
  }
  const { server, dataDir } = runtime.config;
  const daemonUrl = localDaemonUrl(server);
  const apiToken = await readApiToken(server.apiToken, dataDir);
  const probe = await probeDaemon(daemonUrl, apiToken, signal);
  if (probe.kind === 'refused') {
    throw new DaemonClientError(
      'DAEMON_REFUSED',
      `a server at ${daemonUrl} refused this configuration's API token (HTTP ${probe.status}). If it is a ` +
        'nanoclaw daemon with another data folder, run connect with its configuration or NANOCLAW_API_TOKEN.',
    );
  }
  if (probe.kind === 'ours' && apiToken !== null)
    return viaRunningDaemon(flow, provider, daemonUrl, apiToken);
  if (!settings.wait) {
    throw new UsageError(
      `--no-wait needs a running daemon ("nanoclaw serve") for ${provider.name}: the sign-in comes back to ` +
        `${server.publicUrl}, and nothing else would answer there`,
    );
  }
  return viaTemporaryServer(flow, provider);
}

/** The running daemon makes the link and handles the callback; its token file says when it is done. */
async function viaRunningDaemon(
  flow: ConnectFlow,
  provider: BuiltinProviderConfig,
  daemonUrl: string,
  apiToken: string,
): Promise<FlowResult> {
  const { runtime, settings, signal } = flow;
  const { owner } = settings;
  // A token file written before this link was made is not the answer to it.
  const askedAt = Date.now();
  const url = await requestLoginLink(daemonUrl, apiToken, builtinStartPath(provider.name, owner), signal);
  const link: AuthorizeLink = { url, route: 'daemon', expiresAt: null };
  flow.announce(link);
  if (!settings.wait) return { outcome: 'not-waiting', link, result: null };

  flow.note(waitingNote(provider.name, owner, settings.timeoutMs));
  const waited = await pollUntil(
    async () => {
      const stored = await runtime.folder.read(owner, provider.name);
      const written =
        stored.state === 'present' &&
        Date.parse(stored.file.synced_at) >= askedAt &&
        isUnexpired(stored.file.expires_at, Date.now());
      return written ? true : null;
    },
    { intervalMs: flow.pollIntervalMs.tokenFile, timeoutMs: settings.timeoutMs, signal },
  );
  if (waited.status !== 'done') return { outcome: waited.status, link, result: null };
  return {
    outcome: 'connected',
    link,
    result: await runtime.tokenSync.sync(owner, provider.name, { signal }),
  };
}

/**
 * No daemon runs: this command serves the web app (its routes, no refresher, no skills) on the
 * configured address until the callback has written the token, the time is up, or Ctrl-C.
 */
async function viaTemporaryServer(flow: ConnectFlow, provider: BuiltinProviderConfig): Promise<FlowResult> {
  const { runtime, settings, signal } = flow;
  const { config } = runtime;
  const { owner } = settings;
  if (config.server.port === 0) {
    throw new UsageError(
      `server.port is 0 (any free port), so the sign-in could not find its way back to ${provider.name}'s ` +
        'registered redirect URI: set server.port (or NANOCLAW_PORT), or start "nanoclaw serve" first',
    );
  }
  const web = await WebApp.start({
    config,
    logger: runtime.logger,
    events: runtime.events,
    tokenSync: runtime.tokenSync,
    sources: runtime.sources,
    // Only the page session from the login link is needed; this server's API is for no one else.
    apiToken: generateApiToken(),
    host: config.server.host,
    port: config.server.port,
    publicUrl: explicitPublicUrl(config),
  });
  try {
    // Listening before the link is out, so a quick sign-in is not missed.
    // The callback ends the wait either way: a token synced, or a sign-in that failed (denied,
    // stale state) for this provider, and for this owner when the failure knows it.
    // The callback's own events say how it ended; the token file, read too, says so even when its
    // event was missed, so the wait never outlives a sign-in that is done.
    let notice: { code: string; message: string } | null | undefined;
    const unsubscribe = runtime.events.subscribe((event) => {
      if (event.type === 'token_synced' && event.owner === owner && event.provider === provider.name) {
        notice ??= null;
      } else if (
        event.type === 'error' &&
        event.code.startsWith('OAUTH_') &&
        event.provider === provider.name &&
        event.owner === owner
      ) {
        notice ??= { code: event.code, message: event.message };
      }
    });
    const askedAt = Date.now();
    const synced = pollUntil(
      async () => {
        if (notice !== undefined) return { value: notice };
        const stored = await runtime.folder.read(owner, provider.name);
        const written =
          stored.state === 'present' &&
          Date.parse(stored.file.synced_at) >= askedAt &&
          isUnexpired(stored.file.expires_at, Date.now());
        return written ? { value: null } : null;
      },
      { intervalMs: flow.pollIntervalMs.tokenFile, timeoutMs: settings.timeoutMs, signal },
    ).finally(unsubscribe);
    const link: AuthorizeLink = {
      url: web.createLoginLink(builtinStartPath(provider.name, owner)),
      route: 'temporary-server',
      expiresAt: new Date(Date.now() + settings.timeoutMs).toISOString(),
    };
    flow.announce(link);
    flow.note(waitingNote(provider.name, owner, settings.timeoutMs));
    const waited = await synced;
    if (waited.status !== 'done') return { outcome: waited.status, link, result: null };
    if (waited.value.value !== null)
      return { outcome: 'refused', link, result: null, refusal: waited.value.value };
    return {
      outcome: 'connected',
      link,
      result: await runtime.tokenSync.sync(owner, provider.name, { signal }),
    };
  } finally {
    // Lets the callback's answer page finish, then frees the port.
    await web.close();
  }
}

function waitingNote(provider: string, owner: string, timeoutMs: number): string {
  return `Waiting for ${owner} to authorize ${provider} (up to ${formatDuration(timeoutMs)}; Ctrl-C to stop)...`;
}
