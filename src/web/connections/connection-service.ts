import { builtinStartPath } from '../../sources/builtin/builtin-urls.js';
import type { NangoProviderConfig } from '../../config/types.js';
import { describeError, NanoclawError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { NangoSource } from '../../sources/nango/nango-source.js';
import type { TokenSources } from '../../sources/token-source.js';
import type { SyncResult } from '../../tokens/sync-result.js';
import type { TokenSync } from '../../tokens/token-sync.js';
import { HttpError } from '../server/http-error.js';
import { parseNangoWebhook } from './nango-webhook.js';

/** What the page needs to start connecting a provider. */
export type ConnectStart =
  /** Open Nango's Connect UI with this session token. */
  | { flow: 'nango'; token: string; connect_link: string | null; expires_at: string | null }
  /** Open this (same-origin) URL in a popup; `token_synced` says when it is done. */
  | { flow: 'builtin'; authorizationUrl: string };

export type WebhookOutcome =
  | { handled: true; results: SyncResult[] }
  | { handled: true; needsAuth: { owner: string; provider: string }[] }
  | { handled: false; reason: string };

export interface ConnectionServiceOptions {
  tokenSync: TokenSync;
  sources: TokenSources;
  nango: NangoSource | null;
  logger: Logger;
}

/** The owner's connection is not at the source. */
export class ConnectionNotFoundError extends NanoclawError {
  constructor(message: string) {
    super('CONNECTION_NOT_FOUND', message);
  }
}

/**
 * Connecting and disconnecting owners' providers: connect sessions, the page's "I connected"
 * call, Nango's auth webhooks, and disconnects. Every path that learns of a new connection records
 * it and syncs the token at once, so the file is on disk before the user is back.
 */
export class ConnectionService {
  readonly #tokenSync: TokenSync;
  readonly #sources: TokenSources;
  readonly #nango: NangoSource | null;
  readonly #logger: Logger;

  constructor(options: ConnectionServiceOptions) {
    this.#tokenSync = options.tokenSync;
    this.#sources = options.sources;
    this.#nango = options.nango;
    this.#logger = options.logger;
  }

  /** True when Nango is configured (webhooks and connect sessions make sense). */
  get hasNango(): boolean {
    return this.#nango !== null;
  }

  async startConnect(owner: string, providerName: string, signal: AbortSignal): Promise<ConnectStart> {
    const provider = this.#tokenSync.provider(providerName);
    if (provider.source === 'builtin') {
      if (provider.grant === 'client_credentials') {
        throw new HttpError(
          409,
          'NOTHING_TO_AUTHORIZE',
          `provider "${provider.name}" uses client credentials: there is nothing for an owner to authorize`,
        );
      }
      return { flow: 'builtin', authorizationUrl: builtinStartPath(provider.name, owner) };
    }
    const session = await this.#requireNango().createConnectSession(owner, provider, signal);
    return {
      flow: 'nango',
      token: session.token,
      connect_link: session.connectLink,
      expires_at: session.expiresAt,
    };
  }

  /**
   * The page says the owner connected: the connection must exist at the source (for Nango, among the
   * owner's own connections), then it is recorded and synced at once.
   */
  async completeAuthorization(
    owner: string,
    providerName: string,
    connectionId: string | null,
    signal: AbortSignal,
  ): Promise<SyncResult> {
    const provider = this.#tokenSync.provider(providerName);
    if (provider.source === 'nango') {
      const nango = this.#requireNango();
      const found = await nango.findOwnerConnection(owner, provider, connectionId, signal);
      if (found === null) {
        throw new ConnectionNotFoundError(
          connectionId === null
            ? `Nango has no ${provider.name} connection for owner "${owner}"`
            : `Nango has no ${provider.name} connection "${connectionId}" for owner "${owner}"`,
        );
      }
      await nango.recordConnection(owner, provider, found);
    }
    const result = await this.#tokenSync.sync(owner, provider.name, { force: true, signal });
    if (provider.source === 'builtin' && result.state === 'needs-auth') {
      throw new ConnectionNotFoundError(`owner "${owner}" has not authorized ${provider.name} yet`);
    }
    return result;
  }

  /** Disconnects at the source and removes the token file; skills will ask again. */
  async disconnect(owner: string, providerName: string, signal: AbortSignal): Promise<void> {
    const provider = this.#tokenSync.provider(providerName);
    await this.#sources.sourceFor(provider).disconnect({ owner, provider, signal });
    await this.#tokenSync.markNeedsAuth(owner, provider.name, 'disconnected');
    this.#logger.info({ owner, provider: provider.name }, 'provider disconnected');
  }

  /**
   * A verified Nango webhook: a new or renewed connection is recorded for its end user (our owner)
   * and synced; a failed refresh removes the token and announces `token_needs_auth`.
   */
  async handleNangoWebhook(body: unknown, signal: AbortSignal): Promise<WebhookOutcome> {
    const webhook = parseNangoWebhook(body);
    if (webhook.kind === 'ignored') return { handled: false, reason: webhook.reason };
    const providers = this.#providersFor(webhook.integration);
    if (providers.length === 0) {
      return { handled: false, reason: `no configured provider uses integration "${webhook.integration}"` };
    }
    const nango = this.#requireNango();

    if (webhook.kind === 'connected') {
      const owner = webhook.endUserId ?? (await this.#ownersOf(providers, webhook.connectionId))[0] ?? null;
      if (owner === null) {
        return { handled: false, reason: 'the connection names no end user we know' };
      }
      const results: SyncResult[] = [];
      for (const provider of providers) {
        await nango.recordConnection(owner, provider, webhook.connectionId);
        results.push(await this.#tokenSync.sync(owner, provider.name, { force: true, signal }));
      }
      return { handled: true, results };
    }

    const owners = webhook.endUserId
      ? [webhook.endUserId]
      : await this.#ownersOf(providers, webhook.connectionId);
    if (owners.length === 0) return { handled: false, reason: 'the connection names no end user we know' };
    const needsAuth: { owner: string; provider: string }[] = [];
    for (const owner of owners) {
      for (const provider of providers) {
        if (!(await this.#isCurrentConnection(nango, owner, provider, webhook.connectionId, signal)))
          continue;
        await this.#tokenSync.markNeedsAuth(owner, provider.name, webhook.reason);
        needsAuth.push({ owner, provider: provider.name });
      }
    }
    if (needsAuth.length === 0) {
      return { handled: false, reason: 'the connection is not the one its owner uses now' };
    }
    return { handled: true, needsAuth };
  }

  /**
   * Nango refreshes every connection it holds, those an owner replaced by connecting again too: a
   * failure of one of those says nothing about the token the owner has now. When Nango cannot say
   * which connection is current, the token stays (the refresher finds out on its next sync).
   */
  async #isCurrentConnection(
    nango: NangoSource,
    owner: string,
    provider: NangoProviderConfig,
    connectionId: string,
    signal: AbortSignal,
  ): Promise<boolean> {
    try {
      return (await nango.resolveConnectionId(owner, provider, signal)) === connectionId;
    } catch (error) {
      this.#logger.warn(
        { owner, provider: provider.name, ...describeError(error) },
        'cannot tell whether a failed Nango connection is the current one; the token stays',
      );
      return false;
    }
  }

  /** Whether Nango signed this body (`X-Nango-Hmac-Sha256`, keyed by the webhook signing key). */
  verifyNangoWebhook(rawBody: Buffer, headers: Readonly<Record<string, string | undefined>>): boolean {
    const signature = headers['x-nango-hmac-sha256'];
    if (!this.#nango || typeof signature !== 'string' || signature === '') return false;
    return this.#nango.verifyWebhook(rawBody.toString('utf8'), { 'x-nango-hmac-sha256': signature });
  }

  #providersFor(integration: string): NangoProviderConfig[] {
    return this.#tokenSync.providers.filter(
      (provider): provider is NangoProviderConfig =>
        provider.source === 'nango' && provider.integration === integration,
    );
  }

  /** Owners tied to a connection by config (fixed ids) or by an earlier connect. */
  async #ownersOf(providers: NangoProviderConfig[], connectionId: string): Promise<string[]> {
    const owners = new Set<string>();
    for (const provider of providers) {
      for (const [owner, id] of Object.entries(provider.connections))
        if (id === connectionId) owners.add(owner);
      for (const owner of await this.#requireNango().registry.ownersOf(provider.integration, connectionId)) {
        owners.add(owner);
      }
    }
    return [...owners].sort();
  }

  #requireNango(): NangoSource {
    if (!this.#nango)
      throw new HttpError(409, 'NOT_CONFIGURED', 'Nango is not configured (NANGO_SECRET_KEY)');
    return this.#nango;
  }
}
