import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Refresher, type RefreshStore, type RefreshTokens } from '../../../src/daemon/refresher.js';
import { EventBus } from '../../../src/events/event-bus.js';
import { silentLogger } from '../../../src/log/logger.js';
import type { SyncResult } from '../../../src/tokens/sync-result.js';
import type { StoredToken } from '../../../src/tokens/token-folder.js';
import type { SyncOptions } from '../../../src/tokens/token-sync.js';

const START = Date.parse('2030-01-01T00:00:00Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const settings = { marginMs: 5 * MINUTE, maxAgeMs: 10 * MINUTE, concurrency: 4 };

type Answer = 'refresh' | 'same' | 'needs-auth' | { unavailable: number | null } | 'error' | 'throw' | 'hang';

interface Call {
  owner: string;
  provider: string;
  at: number;
  force: boolean;
}

/** Token files in memory, and a sync that answers as scripted per (owner, provider). */
class FakeTokens implements RefreshTokens, RefreshStore {
  readonly providers = [{ name: 'calendar' }, { name: 'github' }];
  readonly files = new Map<string, { expiresAt: number | null; checkedAt: number }>();
  readonly calls: Call[] = [];
  readonly answers = new Map<string, Answer[]>();
  /** Lifetime of a token a refresh hands out. */
  lifetimeMs = HOUR;
  readonly hanging: Array<() => void> = [];

  constructor(private readonly events: EventBus) {}

  put(owner: string, provider: string, expiresAt: number | null, checkedAt = Date.now()) {
    this.files.set(`${owner}/${provider}`, { expiresAt, checkedAt });
  }

  answer(owner: string, provider: string, ...answers: Answer[]) {
    this.answers.set(`${owner}/${provider}`, answers);
  }

  callsFor(owner: string, provider: string) {
    return this.calls.filter((call) => call.owner === owner && call.provider === provider);
  }

  async listOwners() {
    return [...new Set([...this.files.keys()].map((key) => key.split('/')[0]!))];
  }

  async listProviders(owner: string) {
    return [...this.files.keys()]
      .filter((key) => key.startsWith(`${owner}/`))
      .map((key) => key.split('/')[1]!);
  }

  async read(owner: string, provider: string): Promise<StoredToken> {
    const file = this.files.get(`${owner}/${provider}`);
    if (!file) return { state: 'missing' };
    return {
      state: 'present',
      checkedAt: new Date(file.checkedAt),
      file: {
        provider,
        access_token: 'secret',
        token_type: 'Bearer',
        expires_at: file.expiresAt === null ? null : new Date(file.expiresAt).toISOString(),
        scopes: [],
        synced_at: new Date(file.checkedAt).toISOString(),
      },
    };
  }

  async sync(owner: string, provider: string, options: SyncOptions = {}): Promise<SyncResult> {
    const now = Date.now();
    this.calls.push({ owner, provider, at: now, force: options.force ?? false });
    const key = `${owner}/${provider}`;
    const queue = this.answers.get(key) ?? [];
    const answer = (queue.length > 1 ? queue.shift() : queue[0]) ?? 'refresh';
    const result = (state: SyncResult['state'], extra: Partial<SyncResult> = {}): SyncResult => {
      const file = this.files.get(key);
      return {
        owner,
        provider,
        state,
        usable: file !== undefined && (file.expiresAt === null || file.expiresAt > now),
        fetched: true,
        expiresAt: file?.expiresAt == null ? null : new Date(file.expiresAt).toISOString(),
        syncedAt: file ? new Date(file.checkedAt).toISOString() : null,
        code: null,
        message: null,
        retryAfterMs: null,
        ...extra,
      };
    };
    if (answer === 'hang') {
      await new Promise<void>((resolve) => this.hanging.push(resolve));
      return result('fresh');
    }
    if (answer === 'throw') throw new Error('boom');
    if (answer === 'refresh') {
      this.put(owner, provider, now + this.lifetimeMs, now);
      this.events.emit({ type: 'token_synced', owner, provider, expiresAt: null });
      return result('refreshed');
    }
    if (answer === 'same') {
      const file = this.files.get(key)!;
      file.checkedAt = now;
      return result('fresh');
    }
    if (answer === 'needs-auth') {
      this.files.delete(key);
      this.events.emit({ type: 'token_needs_auth', owner, provider, reason: 'gone' });
      return result('needs-auth', { code: 'REFRESH_FAILED', message: 'refused' });
    }
    if (answer === 'error') return result('error', { code: 'TOKEN_WRITE_FAILED', message: 'disk full' });
    return result('unavailable', {
      code: 'SOURCE_COOLDOWN',
      message: 'cooling down',
      retryAfterMs: answer.unavailable,
    });
  }
}

let events: EventBus;
let tokens: FakeTokens;
let refresher: Refresher;

function makeRefresher(random: () => number = () => 0, overrides: Partial<typeof settings> = {}) {
  refresher = new Refresher({
    tokens,
    store: tokens,
    events,
    logger: silentLogger(),
    settings: { ...settings, ...overrides },
    random,
  });
  return refresher;
}

/** Lets promise chains settle without moving the clock. */
async function settle() {
  await vi.advanceTimersByTimeAsync(0);
}

beforeEach(() => {
  vi.useFakeTimers({ now: START });
  events = new EventBus();
  tokens = new FakeTokens(events);
});

afterEach(async () => {
  await refresher?.stop();
  vi.useRealTimers();
});

describe('Refresher', () => {
  it('refreshes a token at expiry minus the margin, and then the new one again', async () => {
    tokens.put('alice', 'calendar', START + HOUR);
    await makeRefresher().start();

    await vi.advanceTimersByTimeAsync(55 * MINUTE - 1);
    expect(tokens.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(tokens.calls).toEqual([
      { owner: 'alice', provider: 'calendar', at: START + 55 * MINUTE, force: false },
    ]);
    expect(refresher.describe('alice', 'calendar')?.nextRefreshAt).toBe(
      new Date(START + 55 * MINUTE + 55 * MINUTE).toISOString(),
    );
    await vi.advanceTimersByTimeAsync(55 * MINUTE);
    expect(tokens.calls.map((call) => call.at)).toEqual([START + 55 * MINUTE, START + 110 * MINUTE]);
  });

  it('spreads refreshes inside the margin with jitter', async () => {
    let seed = 7;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let index = 0; index < 200; index++) tokens.put(`owner-${index}`, 'calendar', START + HOUR);
    await makeRefresher(random, { concurrency: 500 }).start();

    await vi.advanceTimersByTimeAsync(55 * MINUTE - 1);
    expect(tokens.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(tokens.calls).toHaveLength(200);
    const times = tokens.calls.map((call) => call.at - START);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(55 * MINUTE);
    expect(Math.max(...times)).toBeLessThan(56 * MINUTE);
    // Jitter, not one burst: the wave covers most of its minute.
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(45_000);
  });

  it('backs off 1 s, then between 75% and 100% of twice the previous delay, up to 5 minutes, and resets after success', async () => {
    tokens.put('alice', 'calendar', START + 2 * MINUTE);
    tokens.answer('alice', 'calendar', ...Array<Answer>(14).fill({ unavailable: null }), 'refresh');
    await makeRefresher(Math.random).start();

    await vi.advanceTimersByTimeAsync(30 * MINUTE);
    const times = tokens.calls.map((call) => call.at);
    expect(times.length).toBeGreaterThanOrEqual(15);
    const gaps = times.slice(1, 15).map((at, index) => at - times[index]!);
    expect(gaps[0]).toBe(1_000);
    for (let index = 1; index < gaps.length; index++) {
      const previous = gaps[index - 1]!;
      const gap = gaps[index]!;
      if (previous * 1.5 >= 5 * MINUTE) expect(gap).toBe(5 * MINUTE);
      else {
        expect(gap).toBeGreaterThanOrEqual(Math.floor(1.5 * previous));
        expect(gap).toBeLessThanOrEqual(Math.min(2 * previous, 5 * MINUTE) + 1);
      }
    }
    expect(Math.max(...gaps)).toBe(5 * MINUTE);
    expect(refresher.describe('alice', 'calendar')).toMatchObject({ failures: 0, lastError: null });

    // After a success the next failure starts over at one second.
    tokens.answer('alice', 'calendar', { unavailable: null }, 'refresh');
    const before = tokens.calls.length;
    await vi.advanceTimersByTimeAsync(HOUR);
    const after = tokens.calls.slice(before).map((call) => call.at);
    expect(after[1]! - after[0]!).toBe(1_000);
  });

  it("honours Retry-After and Nango's cooldown over a shorter backoff", async () => {
    tokens.put('alice', 'calendar', START + 2 * MINUTE, START - HOUR);
    tokens.answer('alice', 'calendar', { unavailable: 30_000 }, 'refresh');
    await makeRefresher().start();

    await vi.advanceTimersByTimeAsync(MINUTE);
    const times = tokens.calls.map((call) => call.at - START);
    expect(times).toEqual([1_000, 31_000]);
    expect(refresher.describe('alice', 'calendar')?.failures).toBe(0);
  });

  it('keeps failures of one (owner, provider) away from the others', async () => {
    tokens.put('alice', 'calendar', START + 10 * MINUTE);
    tokens.put('alice', 'github', START + 10 * MINUTE);
    tokens.put('bob', 'calendar', START + 10 * MINUTE);
    tokens.answer('alice', 'calendar', 'throw');
    await makeRefresher().start();

    await vi.advanceTimersByTimeAsync(6 * MINUTE);
    expect(tokens.callsFor('alice', 'github').map((call) => call.at - START)).toEqual([5 * MINUTE]);
    expect(tokens.callsFor('bob', 'calendar').map((call) => call.at - START)).toEqual([5 * MINUTE]);
    expect(tokens.callsFor('alice', 'calendar').length).toBeGreaterThan(4);
    expect(refresher.describe('alice', 'calendar')?.lastError).toEqual({ code: 'INTERNAL', message: 'boom' });
    expect(refresher.describe('bob', 'calendar')).toMatchObject({ failures: 0, lastError: null });
  });

  it('picks the schedule up from the files after a restart', async () => {
    tokens.put('alice', 'calendar', START + HOUR);
    tokens.put('alice', 'github', START - MINUTE, START - HOUR);
    tokens.put('bob', 'calendar', null, START - 9 * MINUTE);
    tokens.put('bob', 'unknown-provider', START + MINUTE);
    await makeRefresher().start();

    expect(refresher.size).toBe(3);
    expect(refresher.describe('bob', 'unknown-provider')).toBeNull();
    expect(refresher.describe('alice', 'github')?.nextRefreshAt).toBe(new Date(START + 1_000).toISOString());
    expect(refresher.describe('bob', 'calendar')?.nextRefreshAt).toBe(new Date(START + MINUTE).toISOString());
    expect(refresher.describe('alice', 'calendar')?.nextRefreshAt).toBe(
      new Date(START + 55 * MINUTE).toISOString(),
    );
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(tokens.calls.map((call) => `${call.owner}/${call.provider}@${call.at - START}`)).toEqual([
      'alice/github@1000',
      'bob/calendar@60000',
    ]);
  });

  it('re-checks a token that never expires every max age', async () => {
    tokens.put('alice', 'calendar', null, START);
    tokens.answer('alice', 'calendar', 'same');
    await makeRefresher().start();
    await vi.advanceTimersByTimeAsync(35 * MINUTE);
    expect(tokens.calls.map((call) => call.at - START)).toEqual([10 * MINUTE, 20 * MINUTE, 30 * MINUTE]);
  });

  it('forces a refresh only when the source handed back the same token inside the margin', async () => {
    tokens.put('alice', 'calendar', START + 10 * MINUTE);
    tokens.answer('alice', 'calendar', 'same', 'refresh');
    await makeRefresher().start();
    await vi.advanceTimersByTimeAsync(5 * MINUTE);
    expect(tokens.calls.map((call) => call.force)).toEqual([false, true]);
  });

  it('never runs more refreshes at once than the concurrency bound, and one timer for all', async () => {
    for (let index = 0; index < 50; index++) {
      tokens.put(`owner-${index}`, 'calendar', START + 10 * MINUTE);
      tokens.answer(`owner-${index}`, 'calendar', 'hang', 'refresh');
    }
    await makeRefresher().start();
    expect(vi.getTimerCount()).toBe(1);

    await vi.advanceTimersByTimeAsync(5 * MINUTE);
    expect(tokens.calls).toHaveLength(4);
    expect(refresher.running).toBe(4);
    while (tokens.hanging.length > 0) {
      for (const release of tokens.hanging.splice(0)) release();
      await settle();
      expect(refresher.running).toBeLessThanOrEqual(4);
    }
    await settle();
    expect(new Set(tokens.calls.map((call) => call.owner)).size).toBe(50);
    expect(refresher.running).toBe(0);
    expect(vi.getTimerCount()).toBe(1);
  });

  it('follows token_synced and token_needs_auth events', async () => {
    await makeRefresher().start();
    expect(refresher.size).toBe(0);

    tokens.put('carol', 'github', START + 2 * HOUR);
    events.emit({ type: 'token_synced', owner: 'carol', provider: 'github', expiresAt: null });
    await settle();
    expect(refresher.describe('carol', 'github')?.nextRefreshAt).toBe(
      new Date(START + 2 * HOUR - 5 * MINUTE).toISOString(),
    );

    tokens.files.delete('carol/github');
    events.emit({ type: 'token_needs_auth', owner: 'carol', provider: 'github', reason: 'revoked' });
    expect(refresher.describe('carol', 'github')).toBeNull();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stops refreshing a token whose source says it needs authorization', async () => {
    tokens.put('alice', 'calendar', START + 6 * MINUTE);
    tokens.answer('alice', 'calendar', 'needs-auth');
    await makeRefresher().start();
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(tokens.calls).toHaveLength(1);
    expect(refresher.size).toBe(0);
  });

  it('leaves no timer behind and waits for refreshes in flight when stopped', async () => {
    tokens.put('alice', 'calendar', START + 5 * MINUTE, START - HOUR);
    tokens.answer('alice', 'calendar', 'hang');
    tokens.put('bob', 'calendar', START + HOUR);
    await makeRefresher().start();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(refresher.running).toBe(1);

    let stopped = false;
    const stopping = refresher.stop().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    tokens.hanging.shift()!();
    await stopping;
    expect(vi.getTimerCount()).toBe(0);
    expect(refresher.size).toBe(0);
    await vi.advanceTimersByTimeAsync(2 * HOUR);
    expect(tokens.calls).toHaveLength(1);
  });
});
