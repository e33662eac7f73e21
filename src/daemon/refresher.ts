import pLimit from 'p-limit';
import type { RefreshSettings } from '../config/types.js';
import { describeError } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { NanoclawEvent } from '../events/types.js';
import type { Logger } from '../log/logger.js';
import type { SyncResult } from '../tokens/sync-result.js';
import type { StoredToken } from '../tokens/token-folder.js';
import type { SyncOptions } from '../tokens/token-sync.js';
import { nextBackoffMs, retryDelayMs } from './backoff.js';
import { MAX_TIMER_DELAY_MS, systemClock, type Clock, type TimerHandle } from './clock.js';
import { DueQueue } from './due-queue.js';
import { planNextRefresh } from './refresh-plan.js';

/** What the refresher needs from the token sync service. */
export interface RefreshTokens {
  readonly providers: readonly { name: string }[];
  sync(owner: string, provider: string, options?: SyncOptions): Promise<SyncResult>;
}

/** What the refresher needs from the token folder: the schedule is rebuilt from the files. */
export interface RefreshStore {
  listOwners(): Promise<string[]>;
  listProviders(owner: string): Promise<string[]>;
  read(owner: string, provider: string): Promise<StoredToken>;
}

export interface RefresherOptions {
  tokens: RefreshTokens;
  store: RefreshStore;
  events: EventBus;
  logger: Logger;
  settings: RefreshSettings;
  clock?: Clock;
  /** A number in [0, 1), for jitter. */
  random?: () => number;
}

/** One (owner, provider) as the refresher sees it, for the API's status. */
export interface RefreshState {
  nextRefreshAt: string | null;
  running: boolean;
  failures: number;
  lastError: { code: string; message: string } | null;
}

interface Entry {
  readonly key: string;
  readonly owner: string;
  readonly provider: string;
  dueAt: number;
  queueIndex: number;
  running: boolean;
  /** Dropped while a refresh ran (needs authorization now): do not plan it again. */
  dropped: boolean;
  backoffMs: number | null;
  failures: number;
  lastError: { code: string; message: string } | null;
}

/** How many token files are read at once when the schedule is rebuilt. */
const SCAN_CONCURRENCY = 32;

const keyOf = (owner: string, provider: string) => `${owner}\u0000${provider}`;

/**
 * Keeps every synced token fresh ahead of expiry with one ordered schedule and one timer, whatever
 * the number of tokens: a bounded number of refreshes at once, backoff with jitter per (owner,
 * provider) on failure, Retry-After and cooldowns honoured. The schedule is rebuilt from the token
 * files on start and follows `token_synced` / `token_needs_auth` events.
 */
export class Refresher {
  readonly #tokens: RefreshTokens;
  readonly #store: RefreshStore;
  readonly #events: EventBus;
  readonly #logger: Logger;
  readonly #settings: RefreshSettings;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #queue = new DueQueue<Entry>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #controller = new AbortController();
  #timer: TimerHandle | null = null;
  #timerDueAt = Number.POSITIVE_INFINITY;
  #running = 0;
  #started = false;
  #stopped = false;
  #unsubscribe: (() => void) | null = null;

  constructor(options: RefresherOptions) {
    this.#tokens = options.tokens;
    this.#store = options.store;
    this.#events = options.events;
    this.#logger = options.logger;
    this.#settings = options.settings;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
  }

  /** Tokens the refresher is keeping fresh. */
  get size(): number {
    return this.#entries.size;
  }

  /** Refreshes running right now. */
  get running(): number {
    return this.#running;
  }

  /** Follows token events and plans every token file already on disk (the schedule after a restart). */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#unsubscribe = this.#events.subscribe((event) => this.#onEvent(event));
    const configured = new Set(this.#tokens.providers.map((provider) => provider.name));
    const limit = pLimit(SCAN_CONCURRENCY);
    const owners = await this.#store.listOwners();
    const pairs = (
      await Promise.all(
        owners.map(async (owner) =>
          (await this.#store.listProviders(owner))
            .filter((provider) => configured.has(provider))
            .map((provider) => ({ owner, provider })),
        ),
      )
    ).flat();
    await Promise.all(pairs.map(({ owner, provider }) => limit(() => this.reschedule(owner, provider))));
    this.#logger.info({ tokens: this.#entries.size }, 'refresher started');
  }

  /** Plans (owner, provider) from its token file; a missing file takes it off the schedule. */
  async reschedule(owner: string, provider: string): Promise<void> {
    if (this.#stopped) return;
    let stored: StoredToken;
    try {
      stored = await this.#store.read(owner, provider);
    } catch (error) {
      stored = { state: 'corrupt', reason: describeError(error).message };
    }
    if (this.#stopped) return;
    const key = keyOf(owner, provider);
    const existing = this.#entries.get(key);
    if (existing?.running) return;
    if (stored.state === 'missing') {
      this.#drop(key);
      return;
    }
    const entry = existing ?? this.#newEntry(owner, provider);
    const now = this.#clock.now();
    const dueAt =
      stored.state === 'present'
        ? this.#plan(stored, now)
        : // Unreadable by hand: fetch it again now.
          now;
    this.#queue.schedule(entry, dueAt);
    this.#arm();
  }

  /** Where (owner, provider) stands in the schedule, or null when it is not kept fresh. */
  describe(owner: string, provider: string): RefreshState | null {
    const entry = this.#entries.get(keyOf(owner, provider));
    if (!entry) return null;
    return {
      nextRefreshAt: this.#queue.has(entry) ? new Date(entry.dueAt).toISOString() : null,
      running: entry.running,
      failures: entry.failures,
      lastError: entry.lastError,
    };
  }

  /** Stops the timer, cancels refreshes in flight and waits for them (a write in progress completes). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#disarm();
    this.#controller.abort(new Error('the refresher is stopping'));
    await Promise.allSettled([...this.#inFlight]);
    this.#queue.clear();
    this.#entries.clear();
  }

  #newEntry(owner: string, provider: string): Entry {
    const entry: Entry = {
      key: keyOf(owner, provider),
      owner,
      provider,
      dueAt: 0,
      queueIndex: -1,
      running: false,
      dropped: false,
      backoffMs: null,
      failures: 0,
      lastError: null,
    };
    this.#entries.set(entry.key, entry);
    return entry;
  }

  #drop(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    if (entry.running) {
      entry.dropped = true;
      return;
    }
    this.#queue.remove(entry);
    this.#entries.delete(key);
    this.#arm();
  }

  #plan(stored: StoredToken & { state: 'present' }, now: number): number {
    return planNextRefresh({
      expiresAt: stored.file.expires_at === null ? null : Date.parse(stored.file.expires_at),
      checkedAt: stored.checkedAt.getTime(),
      now,
      marginMs: this.#settings.marginMs,
      maxAgeMs: this.#settings.maxAgeMs,
      random: this.#random,
    });
  }

  #onEvent(event: NanoclawEvent): void {
    if (event.type === 'token_synced') {
      if (!this.#tokens.providers.some((provider) => provider.name === event.provider)) return;
      this.#track(this.reschedule(event.owner, event.provider));
    } else if (event.type === 'token_needs_auth') {
      this.#drop(keyOf(event.owner, event.provider));
    }
  }

  #track(work: Promise<void>): void {
    const tracked = work
      .catch((error: unknown) => this.#logger.error(describeError(error), 'refresh scheduling failed'))
      .finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }

  /** Starts every refresh that is due, up to the concurrency bound, then sets the one timer. */
  #pump(): void {
    if (this.#stopped) return;
    const now = this.#clock.now();
    while (this.#running < this.#settings.concurrency) {
      const next = this.#queue.peek();
      if (!next || next.dueAt > now) break;
      this.#queue.pop();
      this.#track(this.#refresh(next));
    }
    this.#arm();
  }

  #arm(): void {
    if (this.#stopped) return;
    const next = this.#queue.peek();
    // While every slot is busy the next completion pumps; no timer needed.
    if (!next || this.#running >= this.#settings.concurrency) {
      this.#disarm();
      return;
    }
    if (this.#timer !== null && this.#timerDueAt <= next.dueAt) return;
    this.#disarm();
    const delay = Math.min(Math.max(0, next.dueAt - this.#clock.now()), MAX_TIMER_DELAY_MS);
    this.#timerDueAt = next.dueAt;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = null;
      this.#timerDueAt = Number.POSITIVE_INFINITY;
      this.#pump();
    }, delay);
  }

  #disarm(): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerDueAt = Number.POSITIVE_INFINITY;
  }

  async #refresh(entry: Entry): Promise<void> {
    entry.running = true;
    this.#running++;
    let result: SyncResult | null = null;
    let failure: { code: string; message: string } | null = null;
    try {
      result = await this.#syncAhead(entry);
    } catch (error) {
      failure = describeError(error);
    } finally {
      entry.running = false;
      this.#running--;
    }
    if (this.#stopped) return;
    if (entry.dropped || result?.state === 'needs-auth') {
      entry.dropped = false;
      this.#drop(entry.key);
      this.#pump();
      return;
    }
    const now = this.#clock.now();
    if (result && (result.state === 'fresh' || result.state === 'refreshed') && result.usable) {
      entry.backoffMs = null;
      entry.failures = 0;
      entry.lastError = null;
      await this.reschedule(entry.owner, entry.provider);
    } else {
      entry.backoffMs = nextBackoffMs(entry.backoffMs, this.#random);
      entry.failures++;
      entry.lastError = failure ?? {
        code: result?.code ?? 'REFRESH_FAILED',
        message: result?.message ?? 'the token could not be refreshed',
      };
      const delay = retryDelayMs(entry.backoffMs, result?.retryAfterMs ?? null);
      this.#logger.warn(
        { owner: entry.owner, provider: entry.provider, code: entry.lastError.code, retryInMs: delay },
        'token refresh failed; retrying later',
      );
      if (this.#entries.get(entry.key) === entry) this.#queue.schedule(entry, now + delay);
    }
    this.#pump();
  }

  /**
   * A plain sync first, so a shared source (Nango) hands out the token it already refreshed; a forced
   * one only when the source gave back the same token and it is still inside the margin.
   */
  async #syncAhead(entry: Entry): Promise<SyncResult> {
    const signal = this.#controller.signal;
    const first = await this.#tokens.sync(entry.owner, entry.provider, { signal });
    if (first.state !== 'fresh' || signal.aborted) return first;
    const expiresAt = first.expiresAt === null ? null : Date.parse(first.expiresAt);
    if (expiresAt === null || expiresAt - this.#clock.now() > this.#settings.marginMs) return first;
    return this.#tokens.sync(entry.owner, entry.provider, { signal, force: true });
  }
}
