import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/events/event-bus.js';
import type { NanoclawEvent } from '../../../src/events/types.js';
import { newBrowserBinding } from '../../../src/store/pending-authorizations.js';
import { PostgresStore } from '../../../src/store/postgres/postgres-store.js';
import { MIGRATIONS } from '../../../src/store/postgres/schema.js';
import { postgresForTests, type PostgresForTests } from '../../support/postgres.js';

const postgres: PostgresForTests = await postgresForTests();
const stores: PostgresStore[] = [];

function openStore(): PostgresStore {
  if (!postgres.available) throw new Error('no PostgreSQL');
  const store = new PostgresStore({ url: postgres.url, lockTimeoutMs: 2_000 });
  stores.push(store);
  return store;
}

afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
  if (postgres.available) await postgres.drop();
});

describe.skipIf(!postgres.available)('the PostgreSQL store', () => {
  let a: PostgresStore;
  let b: PostgresStore;
  beforeAll(async () => {
    a = openStore();
    b = openStore();
    // Two hosts starting together: each schema step is applied once, under its lock.
    await Promise.all([a.ready(), b.ready()]);
  });

  it('applies the schema once, at its latest version', async () => {
    const { rows } = await (
      await a.db.pools()
    ).pool.query<{ version: number }>('SELECT version FROM nanoclaw_schema ORDER BY version');
    expect(rows.map((row) => row.version)).toEqual(MIGRATIONS.map((_, index) => index + 1));
  });

  it('refuses a schema newer than it knows, clearly', async () => {
    const c = openStore();
    await (
      await c.db.pools()
    ).pool.query('INSERT INTO nanoclaw_schema (version) VALUES ($1)', [MIGRATIONS.length + 1]);
    try {
      const other = openStore();
      await expect(other.ready()).rejects.toMatchObject({ code: 'STORE_SCHEMA_NEWER' });
    } finally {
      await (
        await c.db.pools()
      ).pool.query('DELETE FROM nanoclaw_schema WHERE version = $1', [MIGRATIONS.length + 1]);
    }
  });

  it('keeps grant records for every host', async () => {
    const record = { owner: 'alice', provider: 'demo', text: '{"generation":3}', generation: 3 };
    await a.grants.write(record);
    expect(await b.grants.read('alice', 'demo')).toBe(record.text);
    expect(await a.grants.list()).toEqual([{ owner: 'alice', provider: 'demo' }]);
    expect(await a.grants.delete('alice', 'demo')).toBe(true);
    expect(await a.grants.read('alice', 'demo')).toBeNull();
  });

  it('lets one host at a time hold a grant lock, across hosts', async () => {
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = a.grants.withLock('alice', 'demo', AbortSignal.timeout(5_000), async () => {
      order.push('a in');
      await held;
      order.push('a out');
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = b.grants.withLock('alice', 'demo', AbortSignal.timeout(5_000), async () => {
      order.push('b in');
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(order).toEqual(['a in']);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['a in', 'a out', 'b in']);
  });

  it('gives up waiting for a lock with LOCK_TIMEOUT, and on abort', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = a.grants.withLock('bob', 'demo', AbortSignal.timeout(10_000), () => held);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await expect(
      b.grants.withLock('bob', 'demo', AbortSignal.timeout(10_000), async () => 1),
    ).rejects.toMatchObject({
      code: 'LOCK_TIMEOUT',
    });
    const controller = new AbortController();
    const waiting = b.grants.withLock('bob', 'demo', controller.signal, async () => 1);
    setTimeout(() => controller.abort(new Error('stop waiting')), 100);
    await expect(waiting).rejects.toThrow('stop waiting');
    release();
    await first;
    expect(await b.grants.withLock('bob', 'demo', AbortSignal.timeout(5_000), async () => 2)).toBe(2);
  });

  it('hands a pending authorization to one callback only, whichever host it reaches', async () => {
    const binding = newBrowserBinding();
    await a.pending.add(
      {
        state: 'state-1',
        owner: 'alice',
        provider: 'demo',
        codeVerifier: 'verifier',
        redirectUri: 'http://x/cb',
      },
      binding,
    );
    const outcomes = await Promise.all([
      b.pending.consume('state-1', 'demo', binding),
      a.pending.consume('state-1', 'demo', binding),
    ]);
    expect(outcomes.filter((outcome) => outcome.ok)).toHaveLength(1);
    expect(outcomes.find((outcome) => outcome.ok)).toMatchObject({
      pending: { owner: 'alice', codeVerifier: 'verifier' },
    });
    await a.pending.add(
      { state: 'state-2', owner: 'alice', provider: 'demo', codeVerifier: null, redirectUri: 'http://x/cb' },
      binding,
    );
    expect(await b.pending.consume('state-2', 'demo', newBrowserBinding())).toMatchObject({
      ok: false,
      reason: 'wrong_browser',
    });
  });

  it('shares the connection map', async () => {
    await a.connections.set('alice', 'github', 'conn-1');
    expect(await b.connections.get('alice', 'github')).toBe('conn-1');
    expect(await b.connections.ownersOf('github', 'conn-1')).toEqual(['alice']);
    await b.connections.delete('alice', 'github');
    expect(await a.connections.get('alice', 'github')).toBeNull();
  });

  it('shares page sessions and spends a login code once across hosts', async () => {
    const session = a.sessions.createSession();
    // A session is recorded in the background; on its own host it is good at once.
    expect(await a.sessions.isValidSession(session)).toBe(true);
    await a.sessions.flush();
    expect(await b.sessions.isValidSession(session)).toBe(true);
    await b.sessions.endSession(session);
    expect(await a.sessions.isValidSession(session)).toBe(false);
    const code = a.sessions.createLoginCode();
    await a.sessions.flush();
    expect(await b.sessions.redeemLoginCode(code)).toBe(true);
    expect(await a.sessions.redeemLoginCode(code)).toBe(false);
  });

  it('carries shared events from one host to the other, not back, and not the rest', async () => {
    const busA = new EventBus();
    const busB = new EventBus();
    const seenA: NanoclawEvent[] = [];
    const seenB: NanoclawEvent[] = [];
    busA.subscribe((event) => seenA.push(event));
    busB.subscribe((event) => seenB.push(event));
    const channels = [await a.shareEvents(busA), await b.shareEvents(busB)];
    expect(channels.every((channel) => channel.listening)).toBe(true);
    busA.emit({ type: 'token_synced', owner: 'alice', provider: 'demo', expiresAt: null });
    busA.emit({ type: 'skill_started', owner: 'alice', skill: 's', runId: 'r' });
    busB.emit({ type: 'token_needs_auth', owner: 'bob', provider: 'demo', reason: 'revoked' });
    // B's own event is on its bus at once; A's arrive through PostgreSQL.
    await expect.poll(() => seenB.map((event) => event.type)).toEqual(['token_needs_auth', 'token_synced']);
    await expect
      .poll(() => seenA.map((event) => event.type))
      .toEqual(['token_synced', 'skill_started', 'token_needs_auth']);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seenA).toHaveLength(3);
    expect(seenB).toHaveLength(2);
    expect(seenB[1]).toEqual(seenA[0]);
  });
  it('carries a burst of events in the order raised, repeats included, and sends what was raised before close', async () => {
    if (!postgres.available) return;
    const sender = new PostgresStore({ url: postgres.url });
    stores.push(sender);
    const busSender = new EventBus();
    const busListener = new EventBus();
    const seen: NanoclawEvent[] = [];
    busListener.subscribe((event) => seen.push(event));
    await b.shareEvents(busListener);
    await sender.shareEvents(busSender);
    // More than one statement's worth, raised at once, every other one a repeat of the one before.
    const raised = Array.from({ length: 250 }, (_, index) => ({
      type: 'token_synced' as const,
      owner: `owner-${Math.floor(index / 2)}`,
      provider: 'demo',
      expiresAt: null,
    }));
    for (const event of raised) busSender.emit(event);
    await sender.close();
    await expect.poll(() => seen.length, { timeout: 5_000 }).toBe(raised.length);
    expect(seen.map((event) => (event as { owner: string }).owner)).toEqual(
      raised.map((event) => event.owner),
    );
  });

  it('drops an event from another host that does not check out, reports it, and takes the next', async () => {
    if (!postgres.available) return;
    const errors: unknown[] = [];
    const listening = new PostgresStore({ url: postgres.url, onError: (error) => errors.push(error) });
    stores.push(listening);
    const bus = new EventBus();
    const seen: NanoclawEvent[] = [];
    bus.subscribe((event) => seen.push(event));
    await listening.shareEvents(bus);
    const at = new Date().toISOString();
    const notify = (event: unknown) =>
      a.db.query(
        'SELECT pg_notify($1, $2)',
        ['nanoclaw_events', JSON.stringify({ origin: 'elsewhere', event })],
        'STORE_WRITE_FAILED',
      );
    await notify({ type: 'auth_required', at, owner: 'alice', provider: 'demo', scopes: 'all', skill: null });
    await notify({ type: 'token_synced', at, owner: 'alice', provider: 'demo', expiresAt: null });
    await expect.poll(() => seen.map((event) => event.type)).toEqual(['token_synced']);
    expect(errors.map((error) => (error as { code?: string }).code)).toEqual(['STORE_UNREADABLE']);
    expect((errors[0] as Error).message).toContain('event.scopes');
  });
});
