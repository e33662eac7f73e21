import type { NangoProviderConfig } from '../../config/types.js';
import type { WebhookDelivery, WebhookResult, WebhookTarget } from '../webhook.js';
import { WebhookRejectedError } from '../webhook.js';
import type { ConnectionMap } from '../../store/connection-map.js';
import { parseNangoWebhook } from './parse-nango-webhook.js';
import type { WebhookReplayGuard } from './webhook-replay-guard.js';

/** What the webhook handler needs of the Nango source. */
export interface NangoWebhookDependencies {
  providers: readonly NangoProviderConfig[];
  registry: ConnectionMap;
  replays: WebhookReplayGuard;
  verify(rawBody: string, signature: string): boolean;
  resolveConnectionId(owner: string, provider: NangoProviderConfig, signal: AbortSignal): Promise<string>;
  recordConnection(owner: string, provider: NangoProviderConfig, connectionId: string): Promise<void>;
}

/**
 * A Nango auth webhook: signature first (over the raw body, before parsing), then replays, then
 * what it asks: a new connection is recorded for its end user (our owner) and to be synced; a failed
 * refresh of the connection the owner uses now needs authorization.
 */
export async function handleNangoWebhook(
  delivery: WebhookDelivery,
  dependencies: NangoWebhookDependencies,
): Promise<WebhookResult> {
  const signature = delivery.headers['x-nango-hmac-sha256'];
  const raw = delivery.rawBody.toString('utf8');
  if (typeof signature !== 'string' || signature === '' || !dependencies.verify(raw, signature)) {
    throw new WebhookRejectedError(
      'INVALID_SIGNATURE',
      'the X-Nango-Hmac-Sha256 signature does not match the body',
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new WebhookRejectedError('INVALID_JSON', 'body: not valid JSON');
  }
  const webhook = parseNangoWebhook(body);
  if (webhook.kind === 'ignored') return { handled: false, reason: webhook.reason };

  // Nango's webhooks carry no timestamp: the same signed body is refused while it is remembered.
  const admission = dependencies.replays.admit(delivery.rawBody);
  if (!admission.admitted) {
    throw new WebhookRejectedError(
      'WEBHOOK_REPLAYED',
      'this webhook was delivered already; a repeated delivery changes nothing',
    );
  }
  let result: WebhookResult;
  try {
    result = await actOn(webhook, delivery.signal, dependencies);
  } catch (error) {
    // Nothing was done: Nango's own retry of this delivery must be taken.
    admission.forget();
    throw error;
  }
  // The caller does the work the result asks for; if that fails, it forgets the delivery too.
  return result.handled ? { ...result, forget: admission.forget } : result;
}

async function actOn(
  webhook: Exclude<ReturnType<typeof parseNangoWebhook>, { kind: 'ignored' }>,
  signal: AbortSignal,
  dependencies: NangoWebhookDependencies,
): Promise<WebhookResult> {
  const providers = dependencies.providers.filter((provider) => provider.integration === webhook.integration);
  if (providers.length === 0) {
    return { handled: false, reason: `no configured provider uses integration "${webhook.integration}"` };
  }
  if (webhook.kind === 'connected') {
    const owner =
      webhook.endUserId ?? (await ownersOf(providers, webhook.connectionId, dependencies.registry))[0];
    if (owner === undefined) return { handled: false, reason: 'the connection names no end user we know' };
    const sync: WebhookTarget[] = [];
    for (const provider of providers) {
      await dependencies.recordConnection(owner, provider, webhook.connectionId);
      sync.push({ owner, provider: provider.name });
    }
    return { handled: true, sync, needsAuth: [] };
  }

  // The end user Nango names, and every owner the config or an earlier connect ties to the connection.
  const mapped = await ownersOf(providers, webhook.connectionId, dependencies.registry);
  const owners = [...new Set(webhook.endUserId ? [webhook.endUserId, ...mapped] : mapped)].sort();
  if (owners.length === 0) return { handled: false, reason: 'the connection names no end user we know' };
  const needsAuth: (WebhookTarget & { reason: string })[] = [];
  for (const owner of owners) {
    for (const provider of providers) {
      if (!(await isCurrentConnection(owner, provider, webhook.connectionId, signal, dependencies))) continue;
      needsAuth.push({ owner, provider: provider.name, reason: webhook.reason });
    }
  }
  if (needsAuth.length === 0) {
    return { handled: false, reason: 'the connection is not the one its owner uses now' };
  }
  return { handled: true, sync: [], needsAuth };
}

/**
 * Nango refreshes every connection it holds, those an owner replaced by connecting again too: a
 * failure of one of those says nothing about the token the owner has now. When Nango cannot say
 * which connection is current, the token stays (the refresher finds out on its next sync).
 */
async function isCurrentConnection(
  owner: string,
  provider: NangoProviderConfig,
  connectionId: string,
  signal: AbortSignal,
  dependencies: NangoWebhookDependencies,
): Promise<boolean> {
  try {
    return (await dependencies.resolveConnectionId(owner, provider, signal)) === connectionId;
  } catch {
    return false;
  }
}

/** Owners tied to a connection by config (fixed ids) or by an earlier connect. */
async function ownersOf(
  providers: NangoProviderConfig[],
  connectionId: string,
  registry: ConnectionMap,
): Promise<string[]> {
  const owners = new Set<string>();
  for (const provider of providers) {
    for (const [owner, id] of Object.entries(provider.connections))
      if (id === connectionId) owners.add(owner);
    for (const owner of await registry.ownersOf(provider.integration, connectionId)) owners.add(owner);
  }
  return [...owners].sort();
}
