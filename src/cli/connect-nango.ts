import type { NangoProviderConfig } from '../config/types.js';
import { describeError, TokenSourceUnavailableError, UsageError } from '../errors.js';
import type { ConnectFlow, FlowResult } from './connect-flow.js';
import type { AuthorizeLink } from './connect-report.js';
import { pollUntil } from './connect-wait.js';
import { formatDuration } from './output/table.js';

/**
 * Connects a Nango provider: a connect session for the owner (as Nango's end user) limited to this
 * integration, its link handed out, then Nango's list of the owner's connections is polled until a
 * new one appears; it is recorded and the token synced at once.
 */
export async function connectNango(flow: ConnectFlow, provider: NangoProviderConfig): Promise<FlowResult> {
  const { runtime, settings, signal } = flow;
  const { owner } = settings;
  const nango = runtime.sources.nango;
  if (!nango) {
    throw new UsageError(`provider "${provider.name}" uses Nango, but no Nango secret key is configured`);
  }
  // A connection the owner already has is not the one this link makes: only a newer one counts.
  const before = settings.wait ? await nango.findOwnerConnection(owner, provider, null, signal) : null;
  const session = await nango.createConnectSession(owner, provider, signal);
  if (session.connectLink === null) {
    throw new TokenSourceUnavailableError(
      'Nango made a connect session but gave no connect link: connect from the nanoclaw page instead',
    );
  }
  const link: AuthorizeLink = { url: session.connectLink, route: 'nango', expiresAt: session.expiresAt };
  flow.announce(link);
  if (!settings.wait) return { outcome: 'not-waiting', link, result: null };

  flow.note(
    `Waiting for ${owner} to connect ${provider.name} (up to ${formatDuration(settings.timeoutMs)}; Ctrl-C to stop)...`,
  );
  let lastProblem = '';
  const waited = await pollUntil(
    async (pollSignal) => {
      const found = await nango.findOwnerConnection(owner, provider, null, pollSignal);
      return found !== null && found !== before ? found : null;
    },
    {
      intervalMs: flow.pollIntervalMs.nango,
      timeoutMs: settings.timeoutMs,
      signal,
      onError: (error) => {
        const { code, message } = describeError(error);
        if (message === lastProblem) return;
        lastProblem = message;
        flow.note(`Cannot ask Nango right now (${code}): ${message}. Still waiting.`);
      },
    },
  );
  if (waited.status !== 'done') return { outcome: waited.status, link, result: null };
  await nango.recordConnection(owner, provider, waited.value);
  const result = await runtime.tokenSync.sync(owner, provider.name, { mode: 'recheck', signal });
  return { outcome: 'connected', link, result };
}
