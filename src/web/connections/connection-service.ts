import type { Logger } from '../../log/logger.js';
import { ConnectionNotFoundError, NothingToAuthorizeError } from '../../sources/connection-errors.js';
import type { ConnectStart, TokenSources, WebhookReceiver } from '../../sources/token-source.js';
import type { WebhookDelivery, WebhookTarget } from '../../sources/webhook.js';
import type { SyncResult } from '../../tokens/sync-result.js';
import type { TokenSync } from '../../tokens/token-sync.js';
import { HttpError } from '../server/http-error.js';

export { ConnectionNotFoundError };
export type { ConnectStart };

/** The answer to a webhook: what was synced, and what now needs authorization. */
export type WebhookOutcome =
  { handled: true; results: SyncResult[]; needsAuth: WebhookTarget[] } | { handled: false; reason: string };

export interface ConnectionServiceOptions {
  tokenSync: TokenSync;
  sources: TokenSources;
  /** The source of a kind that takes webhooks, or null. */
  webhookReceiver: (kind: string) => WebhookReceiver | null;
  logger: Logger;
}

/**
 * Connecting and disconnecting owners' providers: connect sessions, the page's "I connected" call,
 * the sources' webhooks, and disconnects. Each asks the provider's source; every path that learns of
 * a new connection syncs the token at once (a recheck, never a forced refresh), so the file is on
 * disk before the user is back.
 */
export class ConnectionService {
  readonly #tokenSync: TokenSync;
  readonly #sources: TokenSources;
  readonly #webhookReceiver: (kind: string) => WebhookReceiver | null;
  readonly #logger: Logger;

  constructor(options: ConnectionServiceOptions) {
    this.#tokenSync = options.tokenSync;
    this.#sources = options.sources;
    this.#webhookReceiver = options.webhookReceiver;
    this.#logger = options.logger;
  }

  async startConnect(owner: string, providerName: string, signal: AbortSignal): Promise<ConnectStart> {
    const provider = this.#tokenSync.provider(providerName);
    const source = this.#sources.sourceFor(provider);
    if (!source.startConnect) {
      throw new NothingToAuthorizeError(`provider "${provider.name}" has nothing for an owner to connect`);
    }
    return source.startConnect({ owner, provider, signal });
  }

  /**
   * The page says the owner connected: the source checks the connection is there and the owner's
   * and records it, then the token is synced at once, asking the source again without making the
   * provider refresh a token it has just issued.
   */
  async completeAuthorization(
    owner: string,
    providerName: string,
    connectionId: string | null,
    signal: AbortSignal,
  ): Promise<SyncResult> {
    const provider = this.#tokenSync.provider(providerName);
    await this.#sources.sourceFor(provider).confirmConnection?.({ owner, provider, connectionId, signal });
    const result = await this.#tokenSync.sync(owner, provider.name, { mode: 'recheck', signal });
    if (result.state === 'needs-auth') {
      throw new ConnectionNotFoundError(
        `owner "${owner}" has not authorized ${provider.name} yet${result.code ? ` (${result.code})` : ''}`,
      );
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
   * A webhook for the source of this kind: the source verifies and reads it; what it names is synced
   * (a recheck) or marked as needing authorization here.
   */
  async receiveWebhook(kind: string, delivery: WebhookDelivery): Promise<WebhookOutcome> {
    const receiver = this.#webhookReceiver(kind);
    if (!receiver) {
      throw new HttpError(404, 'NOT_CONFIGURED', `no ${kind} token source that takes webhooks is configured`);
    }
    const answer = await receiver.handleWebhook(delivery);
    if (!answer.handled) return answer;
    const results: SyncResult[] = [];
    try {
      for (const target of answer.sync) {
        results.push(
          await this.#tokenSync.sync(target.owner, target.provider, {
            mode: 'recheck',
            signal: delivery.signal,
          }),
        );
      }
      for (const target of answer.needsAuth) {
        await this.#tokenSync.markNeedsAuth(target.owner, target.provider, target.reason);
      }
    } catch (error) {
      // Not all of it was done: the sender's retry of this delivery must be acted on, not refused.
      answer.forget?.();
      throw error;
    }
    return {
      handled: true,
      results,
      needsAuth: answer.needsAuth.map(({ owner, provider }) => ({ owner, provider })),
    };
  }
}
