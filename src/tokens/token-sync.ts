import { setMaxListeners } from 'node:events';
import pLimit, { type LimitFunction } from 'p-limit';
import type { NanoclawConfig, ProviderConfig } from '../config/types.js';
import { describeError, UnknownProviderError } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { Logger } from '../log/logger.js';
import type { FetchMode, FetchOutcome, TokenSources } from '../sources/token-source.js';
import { assessFreshness, isUnexpired, type Freshness } from './freshness.js';
import { raceWithSignal } from '../async/abort.js';
import { SingleFlight } from '../async/single-flight.js';
import type { SyncResult } from './sync-result.js';
import { buildTokenFile } from './token-file.js';
import type { StoredToken, TokenFolder } from './token-folder.js';
import { TokenSyncClosedError } from './token-sync-closed-error.js';

export interface SyncOptions {
  /**
   * `cached` (the default) skips the network while the file is fresh; `recheck` asks the source in a
   * request that starts after this call, without making the provider refresh; `refresh` makes the
   * provider refresh too.
   */
  mode?: FetchMode;
  /** The same as `mode: 'refresh'` (kept for callers written before `mode`). */
  force?: boolean;
  /**
   * Ends this caller's wait: it answers `error` with the signal's reason at once, while the request
   * it may share with others goes on and still writes the file.
   */
  signal?: AbortSignal;
}

export interface SyncTarget {
  owner: string;
  provider: string;
}

export interface TokenStatus {
  owner: string;
  provider: string;
  source: ProviderConfig['source'];
  /** From the file alone; no source is asked. */
  state: Freshness | 'missing' | 'corrupt';
  usable: boolean;
  expiresAt: string | null;
  syncedAt: string | null;
  checkedAt: string | null;
}

export interface TokenSyncOptions {
  config: Pick<NanoclawConfig, 'providers' | 'refresh'>;
  folder: TokenFolder;
  sources: TokenSources;
  events: EventBus;
  logger: Logger;
  now?: () => number;
}

/**
 * Keeps `data/tokens` in step with the token sources: skips the network while a file is fresh, makes
 * one source request per (owner, provider) however many callers ask, bounds parallel requests, and
 * never truncates or deletes a good file because a source failed.
 *
 * A shared request runs on this object's own lifetime, not on the signal of whoever asked first: a
 * caller that gives up must not fail the others, nor leave the file unwritten. `close` ends it.
 */
export class TokenSync {
  readonly #providers: Map<string, ProviderConfig>;
  readonly #folder: TokenFolder;
  readonly #sources: TokenSources;
  readonly #events: EventBus;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #marginMs: number;
  readonly #maxAgeMs: number;
  readonly #limit: LimitFunction;
  readonly #inFlight = new SingleFlight<SyncResult>();
  /** The strongest mode asked of the next fresh request per (owner, provider), until it starts. */
  readonly #requestedModes = new Map<string, FetchMode>();
  readonly #lifetime = new AbortController();

  constructor(options: TokenSyncOptions) {
    this.#providers = new Map(options.config.providers.map((provider) => [provider.name, provider]));
    this.#folder = options.folder;
    this.#sources = options.sources;
    this.#events = options.events;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#marginMs = options.config.refresh.marginMs;
    this.#maxAgeMs = options.config.refresh.maxAgeMs;
    this.#limit = pLimit(options.config.refresh.concurrency);
    // Every source request listens to it, however many run at once.
    setMaxListeners(0, this.#lifetime.signal);
  }

  get folder(): TokenFolder {
    return this.#folder;
  }

  get providers(): ProviderConfig[] {
    return [...this.#providers.values()];
  }

  provider(name: string): ProviderConfig {
    const provider = this.#providers.get(name);
    if (!provider) throw new UnknownProviderError(name);
    return provider;
  }

  /** How many source requests are running or queued right now. */
  get pendingRequests(): number {
    return this.#limit.activeCount + this.#limit.pendingCount;
  }

  /**
   * Syncs one owner's provider; the network is skipped while its file is fresh unless the mode is
   * `recheck` or `refresh`. Such a call never settles for a request that started before it: the owner may just have
   * authorized, and an older answer may predate that.
   */
  async sync(owner: string, providerName: string, options: SyncOptions = {}): Promise<SyncResult> {
    const provider = this.provider(providerName);
    const { signal } = options;
    const mode: FetchMode = options.mode ?? (options.force ? 'refresh' : 'cached');
    const force = mode !== 'cached';
    if (!force) {
      const stored = await this.#folder.read(owner, provider.name);
      if (stored.state === 'present' && this.#freshnessOf(stored) === 'fresh') {
        return this.#result(owner, provider.name, 'fresh', stored, { fetched: false });
      }
    }
    if (signal?.aborted) return this.#gaveUp(owner, provider.name, signal.reason);
    const key = `${owner}\u0000${provider.name}`;
    // Fresh callers that end up sharing one request get the strongest mode any of them asked for.
    if (force) this.#requestedModes.set(key, strongerMode(this.#requestedModes.get(key), mode));
    const work = () => {
      if (!force) return this.#fetchAndStore(owner, provider, mode);
      const asked = this.#requestedModes.get(key);
      this.#requestedModes.delete(key);
      return this.#fetchAndStore(owner, provider, strongerMode(asked, mode));
    };
    const shared = force ? this.#inFlight.runFresh(key, work) : this.#inFlight.run(key, work);
    if (!signal) return shared;
    try {
      return await raceWithSignal(shared, signal);
    } catch (error) {
      if (signal.aborted && error === signal.reason) return this.#gaveUp(owner, provider.name, error);
      throw error;
    }
  }

  /** Syncs many (owner, provider) pairs in parallel under the concurrency bound. */
  async syncMany(targets: readonly SyncTarget[], options: SyncOptions = {}): Promise<SyncResult[]> {
    const { signal, ...rest } = options;
    if (!signal) return Promise.all(targets.map((target) => this.sync(target.owner, target.provider, rest)));
    // Every target's wait listens for the abort: they listen to this batch's own signal, so the
    // caller's signal gets one listener however many targets there are.
    const batch = new AbortController();
    setMaxListeners(0, batch.signal);
    const forward = () => batch.abort(signal.reason);
    if (signal.aborted) forward();
    else signal.addEventListener('abort', forward, { once: true });
    try {
      return await Promise.all(
        targets.map((target) => this.sync(target.owner, target.provider, { ...rest, signal: batch.signal })),
      );
    } finally {
      signal.removeEventListener('abort', forward);
    }
  }

  /** What the files say, per configured provider; no source is asked. */
  async status(owner: string): Promise<TokenStatus[]> {
    return Promise.all(
      this.providers.map(async (provider) => {
        const stored = await this.#folder.read(owner, provider.name);
        const base = { owner, provider: provider.name, source: provider.source };
        if (stored.state !== 'present') {
          return {
            ...base,
            state: stored.state,
            usable: false,
            expiresAt: null,
            syncedAt: null,
            checkedAt: null,
          };
        }
        return {
          ...base,
          state: this.#freshnessOf(stored),
          usable: isUnexpired(stored.file.expires_at, this.#now()),
          expiresAt: stored.file.expires_at,
          syncedAt: stored.file.synced_at,
          checkedAt: stored.checkedAt.toISOString(),
        };
      }),
    );
  }

  /** The source said the owner must authorize again (e.g. a refresh-failure webhook). */
  async markNeedsAuth(owner: string, providerName: string, reason: string): Promise<void> {
    const provider = this.provider(providerName);
    await this.#folder.remove(owner, provider.name);
    this.#events.emit({ type: 'token_needs_auth', owner, provider: provider.name, reason });
  }

  #freshnessOf(stored: StoredToken & { state: 'present' }): Freshness {
    return assessFreshness({
      expiresAt: stored.file.expires_at,
      checkedAt: stored.checkedAt,
      now: this.#now(),
      marginMs: this.#marginMs,
      maxAgeMs: this.#maxAgeMs,
    });
  }

  /**
   * Cuts short the source requests in flight or queued, and returns once they and any file write
   * they started have settled. Syncs asked for afterwards answer `TOKEN_SYNC_CLOSED`.
   */
  async close(): Promise<void> {
    if (!this.#lifetime.signal.aborted) this.#lifetime.abort(new TokenSyncClosedError());
    await this.#inFlight.idle();
  }

  async #fetchAndStore(owner: string, provider: ProviderConfig, mode: FetchMode): Promise<SyncResult> {
    const signal = this.#lifetime.signal;
    let outcome: FetchOutcome;
    try {
      // The bound is on source requests; the file write (an fsync) happens after the slot is free.
      outcome = await this.#limit(() => {
        signal.throwIfAborted();
        return this.#sources.sourceFor(provider).fetchToken({ owner, provider, mode, signal });
      });
    } catch (error) {
      return this.#failed(owner, provider.name, error);
    }

    if (outcome.status === 'token') {
      const now = new Date(this.#now());
      const file = buildTokenFile(provider, outcome.token, now);
      try {
        // Says what the write left on disk: no read after it.
        const saved = await this.#folder.save(owner, file, now);
        if (saved.outcome === 'written') {
          this.#events.emit({
            type: 'token_synced',
            owner,
            provider: provider.name,
            expiresAt: file.expires_at,
          });
          this.#logger.info({ owner, provider: provider.name, expiresAt: file.expires_at }, 'token synced');
        }
        const state = saved.outcome === 'written' ? 'refreshed' : 'fresh';
        return this.#result(owner, provider.name, state, saved.stored, { fetched: true });
      } catch (error) {
        return this.#failed(owner, provider.name, error);
      }
    }

    if (outcome.status === 'needs_auth') {
      try {
        await this.#folder.remove(owner, provider.name);
      } catch (error) {
        return this.#failed(owner, provider.name, error);
      }
      this.#events.emit({ type: 'token_needs_auth', owner, provider: provider.name, reason: outcome.reason });
      this.#logger.info({ owner, provider: provider.name, code: outcome.code }, 'token needs authorization');
      return this.#result(
        owner,
        provider.name,
        'needs-auth',
        { state: 'missing' },
        {
          fetched: true,
          code: outcome.code,
          message: outcome.reason,
        },
      );
    }

    this.#logger.info(
      { owner, provider: provider.name, code: outcome.code, reason: outcome.reason },
      'token source unavailable',
    );
    const stored = await this.#folder
      .read(owner, provider.name)
      .catch((): StoredToken => ({ state: 'missing' }));
    return this.#result(owner, provider.name, 'unavailable', stored, {
      fetched: true,
      code: outcome.code,
      message: outcome.reason,
      retryAfterMs: outcome.retryAfterMs,
    });
  }

  async #failed(owner: string, provider: string, error: unknown): Promise<SyncResult> {
    const closing = this.#lifetime.signal.aborted;
    const { code, message } = describeError(closing ? this.#lifetime.signal.reason : error);
    if (closing) {
      // Cut short on purpose by close(): nothing failed that anyone must be told about.
      this.#logger.debug({ owner, provider, code }, 'token sync stopped by shutdown');
    } else {
      this.#logger.error({ owner, provider, code, message }, 'token sync failed');
      this.#events.emit({ type: 'error', code, message, owner, provider });
    }
    const stored = await this.#folder.read(owner, provider).catch((): StoredToken => ({ state: 'missing' }));
    return this.#result(owner, provider, 'error', stored, { fetched: true, code, message });
  }

  /** This caller stopped waiting; nothing failed, so there is no error event or error log line. */
  async #gaveUp(owner: string, provider: string, reason: unknown): Promise<SyncResult> {
    const { code, message } = describeError(reason);
    const stored = await this.#folder.read(owner, provider).catch((): StoredToken => ({ state: 'missing' }));
    return this.#result(owner, provider, 'error', stored, { fetched: false, code, message });
  }

  #result(
    owner: string,
    provider: string,
    state: SyncResult['state'],
    stored: StoredToken,
    extra: { fetched: boolean; code?: string; message?: string; retryAfterMs?: number | null },
  ): SyncResult {
    const present = stored.state === 'present' ? stored.file : null;
    return {
      owner,
      provider,
      state,
      usable: present !== null && isUnexpired(present.expires_at, this.#now()),
      fetched: extra.fetched,
      expiresAt: present?.expires_at ?? null,
      syncedAt: present?.synced_at ?? null,
      code: extra.code ?? null,
      message: extra.message ?? null,
      retryAfterMs: extra.retryAfterMs ?? null,
    };
  }
}

const MODE_STRENGTH: Record<FetchMode, number> = { cached: 0, recheck: 1, refresh: 2 };

function strongerMode(a: FetchMode | undefined, b: FetchMode): FetchMode {
  return a !== undefined && MODE_STRENGTH[a] > MODE_STRENGTH[b] ? a : b;
}
