import { setMaxListeners } from 'node:events';
import { raceWithSignal, sleep } from '../../async/abort.js';
import type { NangoProviderConfig, ProviderConfig } from '../../config/types.js';
import { NanoclawError, TokenSourceConfigError, TokenSourceUnavailableError } from '../../errors.js';
import { ConnectionNotFoundError } from '../connection-errors.js';
import type {
  AuthorizationRequest,
  ConfirmConnectionRequest,
  ConnectStart,
  FetchOutcome,
  FetchTokenRequest,
  TokenSource,
} from '../token-source.js';
import type { WebhookDelivery, WebhookResult } from '../webhook.js';
import { handleNangoWebhook } from './nango-webhook-handler.js';
import { WebhookReplayGuard } from './webhook-replay-guard.js';
import type { ConnectionMap } from '../../store/connection-map.js';
import { describeNangoFailure, mapNangoFailure } from './map-nango-error.js';
import type { NangoApi } from './nango-api.js';
import {
  parseConnectSession,
  parseConnectionEndUser,
  parseConnectionList,
  parseConnectionResponse,
  type NangoConnectSession,
  type NangoConnectionSummary,
} from './parse-nango-response.js';

export interface NangoSourceOptions {
  api: NangoApi;
  /** Owner -> connection map (the file registry, or the shared store). */
  registry: ConnectionMap;
  /** The providers Nango serves, for webhooks that name an integration. */
  providers?: readonly NangoProviderConfig[];
  /** Remembers webhook deliveries, so a replayed one is refused. */
  replays?: WebhookReplayGuard;
  /** Longest Retry-After we wait out inside one fetch; longer ones come back as "unavailable". */
  maxRetryWaitMs?: number;
  /** How long an owner's connection list is reused. */
  listTtlMs?: number;
  /**
   * Nango's API as browsers reach it, added to connect links for people (`apiURL`): a self-hosted
   * Connect UI otherwise calls Nango Cloud. Null for Nango Cloud.
   */
  linkApiUrl?: string | null;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

function asNangoProvider(provider: ProviderConfig): NangoProviderConfig {
  if (provider.source !== 'nango') throw new Error(`provider "${provider.name}" is not served by Nango`);
  return provider;
}

/** Tokens from a Nango server through `@nangohq/node`. */
export class NangoSource implements TokenSource {
  readonly kind = 'nango' as const;
  readonly #api: NangoApi;
  readonly #registry: ConnectionMap;
  readonly #maxRetryWaitMs: number;
  readonly #listTtlMs: number;
  readonly #linkApiUrl: string | null;
  readonly #providers: readonly NangoProviderConfig[];
  readonly #replays: WebhookReplayGuard;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Owner -> in-flight or recent connection list, so a cold sync of many providers lists once. */
  readonly #lists = new Map<string, { at: number; list: Promise<NangoConnectionSummary[]> }>();
  /** While Nango's rate limit is in force, every call waits for it rather than adding to the pile. */
  #pausedUntil = 0;
  /** A request several callers share runs on this signal, not on the first caller's. */
  readonly #lifetime = new AbortController();

  constructor(options: NangoSourceOptions) {
    this.#api = options.api;
    this.#registry = options.registry;
    this.#maxRetryWaitMs = options.maxRetryWaitMs ?? 30_000;
    this.#listTtlMs = options.listTtlMs ?? 60_000;
    this.#linkApiUrl = options.linkApiUrl ?? null;
    this.#providers = options.providers ?? [];
    this.#replays = options.replays ?? new WebhookReplayGuard({ now: options.now ?? Date.now });
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? sleep;
    // Every owner's connection list in flight listens to it.
    setMaxListeners(0, this.#lifetime.signal);
  }

  get registry(): ConnectionMap {
    return this.#registry;
  }

  async fetchToken(request: FetchTokenRequest): Promise<FetchOutcome> {
    const provider = asNangoProvider(request.provider);
    let resolved: ResolvedConnection | null = null;
    let replacedDeadId = false;

    // The connection list and the connection itself both count against Nango's rate limit.
    for (let attempt = 0; ; attempt++) {
      const paused = await this.#waitForRateLimit(request.signal);
      if (paused) return paused;
      try {
        resolved ??= await this.#resolve(request.owner, provider, request.signal);
        const data = await this.#api.getConnection(provider.integration, resolved.connectionId, {
          forceRefresh: request.mode === 'refresh',
          includeRefreshToken: provider.exposeRefreshToken,
          signal: request.signal,
        });
        const refused = this.#refuseOthersConnection(data, request.owner, provider, resolved);
        if (refused) return refused;
        return { status: 'token', token: parseConnectionResponse(data, provider.integration) };
      } catch (error) {
        const outcome = this.#outcomeOfFailure(
          error,
          provider.integration,
          resolved?.connectionId ?? '(listing connections)',
        );
        if (outcome.status === 'unavailable' && outcome.code === 'RATE_LIMITED' && attempt < 2) {
          this.#pausedUntil = Math.max(this.#pausedUntil, this.#now() + (outcome.retryAfterMs ?? 0));
          continue;
        }
        if (
          outcome.status === 'needs_auth' &&
          outcome.code === 'CONNECTION_NOT_FOUND' &&
          resolved?.origin === 'recorded' &&
          !replacedDeadId
        ) {
          replacedDeadId = true;
          const replacement = await this.#replaceDeadConnection(
            request.owner,
            provider,
            resolved,
            request.signal,
          );
          if (replacement) {
            resolved = replacement;
            continue;
          }
        }
        return outcome;
      }
    }
  }

  /**
   * The owner id as connection id is a guess from single-user setups: it holds only when the
   * connection names no end user, or names this owner. Otherwise it is someone else's token.
   */
  #refuseOthersConnection(
    data: unknown,
    owner: string,
    provider: NangoProviderConfig,
    resolved: ResolvedConnection,
  ): FetchOutcome | null {
    if (resolved.origin !== 'owner-id') return null;
    const endUser = parseConnectionEndUser(data);
    if (endUser === null || endUser === owner) return null;
    return {
      status: 'needs_auth',
      code: 'CONNECTION_NOT_OWNED',
      reason: `the Nango connection "${resolved.connectionId}" of integration "${provider.integration}" belongs to another end user`,
    };
  }

  /**
   * A recorded id that Nango no longer has, while Nango lists another connection for the owner
   * (who connected again while webhooks were off): the record moves to that one.
   */
  async #replaceDeadConnection(
    owner: string,
    provider: NangoProviderConfig,
    dead: ResolvedConnection,
    signal: AbortSignal,
  ): Promise<ResolvedConnection | null> {
    this.forgetOwner(owner);
    const listed = newestOf(await this.#listConnections(owner, signal), provider.integration);
    if (!listed || listed.connectionId === dead.connectionId) return null;
    await this.#registry.set(owner, provider.integration, listed.connectionId);
    return { connectionId: listed.connectionId, origin: 'listed' };
  }

  /**
   * Owner -> connection: a fixed id from config, then one recorded when the owner connected, then
   * Nango's own list by end user, then the owner id itself (what single-user setups used).
   */
  async resolveConnectionId(
    owner: string,
    provider: NangoProviderConfig,
    signal: AbortSignal,
  ): Promise<string> {
    return (await this.#resolve(owner, provider, signal)).connectionId;
  }

  async #resolve(
    owner: string,
    provider: NangoProviderConfig,
    signal: AbortSignal,
  ): Promise<ResolvedConnection> {
    const fixed = provider.connections[owner];
    if (fixed) return { connectionId: fixed, origin: 'fixed' };
    const recorded = await this.#registry.get(owner, provider.integration);
    if (recorded) return { connectionId: recorded, origin: 'recorded' };
    const listed = newestOf(await this.#listConnections(owner, signal), provider.integration);
    if (listed) return { connectionId: listed.connectionId, origin: 'listed' };
    return { connectionId: owner, origin: 'owner-id' };
  }

  /**
   * The owner's connections, listed once for every caller that asks meanwhile. Each caller's signal
   * ends only its own wait: one that gives up must not fail the others.
   */
  #listConnections(owner: string, signal: AbortSignal): Promise<NangoConnectionSummary[]> {
    const cached = this.#lists.get(owner);
    if (cached && this.#now() - cached.at < this.#listTtlMs) return raceWithSignal(cached.list, signal);
    if (signal.aborted) return Promise.reject(signal.reason);
    // Cached before the first await, so every caller that arrives meanwhile shares this one request.
    const list = this.#api
      .listConnections({ endUserId: owner, signal: this.#lifetime.signal })
      .then(parseConnectionList);
    const entry = { at: this.#now(), list };
    this.#lists.set(owner, entry);
    list.catch(() => {
      if (this.#lists.get(owner) === entry) this.#lists.delete(owner);
    });
    return raceWithSignal(list, signal);
  }

  /** Forget the cached list, e.g. after a new connection was made. */
  forgetOwner(owner: string): void {
    this.#lists.delete(owner);
  }

  /**
   * Waits out Nango's rate limit when that is short; a longer one is answered "unavailable" at once
   * rather than holding a caller (and a concurrency slot) for minutes.
   */
  async #waitForRateLimit(signal: AbortSignal): Promise<FetchOutcome | null> {
    const waitMs = this.#pausedUntil - this.#now();
    if (waitMs <= 0) return null;
    if (waitMs > this.#maxRetryWaitMs) {
      return {
        status: 'unavailable',
        code: 'RATE_LIMITED',
        reason: 'Nango rate limit reached',
        retryAfterMs: waitMs,
      };
    }
    await this.#sleep(waitMs, signal);
    return null;
  }

  #outcomeOfFailure(error: unknown, integration: string, connectionId: string): FetchOutcome {
    // Our own errors (a bad answer, a wrong key, an unreadable registry) are no HTTP failure to map.
    if (error instanceof NanoclawError) throw error;
    const failure = describeNangoFailure(error);
    if (failure.status === null && failure.transportCode === null) throw error;
    return mapNangoFailure(failure, { integration, connectionId, now: this.#now() });
  }

  /** Creates a connect session for the owner limited to this provider's integration. */
  async createConnectSession(
    owner: string,
    provider: ProviderConfig,
    signal: AbortSignal,
  ): Promise<NangoConnectSession> {
    const nangoProvider = asNangoProvider(provider);
    try {
      const data = await this.#api.createConnectSession({
        endUserId: owner,
        allowedIntegrations: [nangoProvider.integration],
        signal,
      });
      const session = parseConnectSession(data);
      return { ...session, connectLink: this.#linkForPeople(session.connectLink) };
    } catch (error) {
      if (error instanceof NanoclawError) throw error;
      const failure = describeNangoFailure(error);
      if (
        failure.status === 400 &&
        failure.errorCode === 'invalid_body' &&
        failure.invalidFields.some((field) => field.startsWith('allowed_integrations'))
      ) {
        throw new TokenSourceConfigError(
          `Nango has no integration "${nangoProvider.integration}": create it in Nango or fix the provider's integration id`,
          { cause: error },
        );
      }
      const outcome = this.#outcomeOfFailure(error, nangoProvider.integration, '(new connect session)');
      throw new TokenSourceUnavailableError(
        `cannot create a Nango connect session: ${describeOutcome(outcome)}`,
        {
          cause: error,
        },
      );
    }
  }

  /** Nango's `connect_link` opens the Connect UI against Nango Cloud unless it carries `apiURL`. */
  #linkForPeople(connectLink: string | null): string | null {
    if (connectLink === null || this.#linkApiUrl === null) return connectLink;
    let link: URL;
    try {
      link = new URL(connectLink);
    } catch {
      return connectLink;
    }
    if (!link.searchParams.has('apiURL')) link.searchParams.set('apiURL', this.#linkApiUrl);
    return link.toString();
  }

  async authorizationUrl(request: AuthorizationRequest): Promise<string | null> {
    try {
      const session = await this.createConnectSession(request.owner, request.provider, request.signal);
      return session.connectLink;
    } catch {
      return null;
    }
  }

  async disconnect(request: AuthorizationRequest): Promise<void> {
    const provider = asNangoProvider(request.provider);
    const connectionId = await this.resolveConnectionId(request.owner, provider, request.signal);
    try {
      await this.#api.deleteConnection(provider.integration, connectionId, { signal: request.signal });
    } catch (error) {
      const failure = describeNangoFailure(error);
      // Nango answers 400 unknown_connection for a connection it does not have: gone already.
      const gone =
        failure.status === 404 || (failure.status === 400 && failure.errorCode === 'unknown_connection');
      if (!gone) {
        const outcome = this.#outcomeOfFailure(error, provider.integration, connectionId);
        throw new TokenSourceUnavailableError(`cannot disconnect at Nango: ${describeOutcome(outcome)}`, {
          cause: error,
        });
      }
    }
    await this.#registry.delete(request.owner, provider.integration);
    this.forgetOwner(request.owner);
  }

  /**
   * The owner's connection for this provider among those Nango lists for the owner as end user: the
   * given id when it is one of them, else the newest; null when there is none. Lists afresh, since a
   * connection was usually just made.
   */
  async findOwnerConnection(
    owner: string,
    provider: ProviderConfig,
    connectionId: string | null,
    signal: AbortSignal,
  ): Promise<string | null> {
    const nangoProvider = asNangoProvider(provider);
    this.forgetOwner(owner);
    let connections: NangoConnectionSummary[];
    try {
      connections = await this.#listConnections(owner, signal);
    } catch (error) {
      const outcome = this.#outcomeOfFailure(error, nangoProvider.integration, '(listing connections)');
      throw new TokenSourceUnavailableError(`cannot list Nango connections: ${describeOutcome(outcome)}`, {
        cause: error,
      });
    }
    const mine = connections
      .filter((connection) => connection.integration === nangoProvider.integration)
      .sort((a, b) => b.created.localeCompare(a.created));
    if (connectionId !== null) {
      return mine.some((connection) => connection.connectionId === connectionId) ? connectionId : null;
    }
    return mine[0]?.connectionId ?? null;
  }

  /** Every Nango integration is connected by its owner through the Connect UI. */
  isConnectable(): boolean {
    return true;
  }

  /** A connect session for the page's Connect UI, and its link for people. */
  async startConnect(request: AuthorizationRequest): Promise<ConnectStart> {
    const session = await this.createConnectSession(request.owner, request.provider, request.signal);
    return {
      flow: 'nango',
      token: session.token,
      connect_link: session.connectLink,
      expires_at: session.expiresAt,
    };
  }

  /** The connection must be among the owner's own at Nango; it is then recorded. */
  async confirmConnection(request: ConfirmConnectionRequest): Promise<void> {
    const { owner, provider, connectionId, signal } = request;
    const found = await this.findOwnerConnection(owner, provider, connectionId, signal);
    if (found === null) {
      throw new ConnectionNotFoundError(
        connectionId === null
          ? `Nango has no ${provider.name} connection for owner "${owner}"`
          : `Nango has no ${provider.name} connection "${connectionId}" for owner "${owner}"`,
      );
    }
    await this.recordConnection(owner, provider, found);
  }

  /** Nango's auth webhooks (`POST /api/webhooks/nango`). */
  handleWebhook(delivery: WebhookDelivery): Promise<WebhookResult> {
    return handleNangoWebhook(delivery, {
      providers: this.#providers,
      registry: this.#registry,
      replays: this.#replays,
      verify: (rawBody, signature) => this.#api.verifyWebhook(rawBody, { 'x-nango-hmac-sha256': signature }),
      resolveConnectionId: (owner, provider, signal) => this.resolveConnectionId(owner, provider, signal),
      recordConnection: (owner, provider, connectionId) =>
        this.recordConnection(owner, provider, connectionId),
    });
  }

  /** Records which connection serves the owner's provider, once the owner connected it. */
  async recordConnection(owner: string, provider: ProviderConfig, connectionId: string): Promise<void> {
    await this.#registry.set(owner, asNangoProvider(provider).integration, connectionId);
    this.forgetOwner(owner);
  }

  verifyWebhook(rawBody: string, headers: Record<string, unknown>): boolean {
    return this.#api.verifyWebhook(rawBody, headers);
  }

  async close(): Promise<void> {
    this.#lifetime.abort(new Error('the Nango token source is closed'));
    this.#lists.clear();
  }
}

/** Where an owner's connection id came from: only the owner-id guess needs its end user checked. */
interface ResolvedConnection {
  connectionId: string;
  origin: 'fixed' | 'recorded' | 'listed' | 'owner-id';
}

/** The owner's newest connection for the integration. */
function newestOf(
  connections: NangoConnectionSummary[],
  integration: string,
): NangoConnectionSummary | undefined {
  return connections
    .filter((connection) => connection.integration === integration)
    .sort((a, b) => b.created.localeCompare(a.created))[0];
}

function describeOutcome(outcome: FetchOutcome): string {
  return outcome.status === 'token' ? 'unexpected answer' : outcome.reason;
}
