import { describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/events/event-bus.js';
import type { NanoclawEvent } from '../../../src/events/types.js';
import { PgEventChannel } from '../../../src/store/postgres/pg-event-channel.js';
import type { PostgresDatabase } from '../../../src/store/postgres/postgres-database.js';
import { decodeSharedEvent, encodeSharedEvent } from '../../../src/store/postgres/shared-events.js';

const AT = '2026-12-03T10:00:00.000Z';
const authRequired: NanoclawEvent = {
  type: 'auth_required',
  at: AT,
  owner: 'alice',
  provider: 'github',
  scopes: ['repo'],
  skill: 'triage',
  runId: null,
  connectUrl: 'https://nanoclaw.example/auth/oauth/github/start',
};

const payload = (event: unknown, origin: unknown = 'host-a') => JSON.stringify({ origin, event });

describe('events shared between hosts', () => {
  it('takes a well-formed event of each shared type, and leaves unknown fields out', () => {
    const events: NanoclawEvent[] = [
      authRequired,
      { type: 'token_synced', at: AT, owner: 'alice', provider: 'github', expiresAt: null },
      { type: 'token_needs_auth', at: AT, owner: 'alice', provider: 'github', reason: 'revoked' },
    ];
    for (const event of events) {
      expect(decodeSharedEvent(payload(event))).toEqual({ ok: true, shared: { origin: 'host-a', event } });
    }
    const extra = decodeSharedEvent(payload({ ...authRequired, html: '<script>' }));
    expect(extra.ok && 'html' in extra.shared.event).toBe(false);
  });

  it.each([
    ['a field of the wrong type', { ...authRequired, scopes: 'repo' }, 'event.scopes'],
    ['a missing field', { ...authRequired, connectUrl: undefined }, 'event.connectUrl'],
    ['a null owner', { ...authRequired, owner: null }, 'event.owner'],
    ['a time that is not one', { ...authRequired, at: 'yesterday' }, 'event.at'],
    ['a type not shared', { type: 'skill_output', at: AT, owner: 'alice', line: 'x' }, 'event.type'],
    [
      'a reason of the wrong type',
      { type: 'token_needs_auth', at: AT, owner: 'a', provider: 'b', reason: 3 },
      'event.reason',
    ],
  ])('drops an event with %s, naming the field and not its value', (_, event, field) => {
    const decoded = decodeSharedEvent(payload(event));
    expect(decoded.ok).toBe(false);
    if (decoded.ok) return;
    expect(decoded.problem).toContain(field);
    expect(decoded.problem).not.toContain('repo');
  });

  it('drops a payload that is not JSON, or has no origin', () => {
    expect(decodeSharedEvent('{not json').ok).toBe(false);
    expect(decodeSharedEvent(payload(authRequired, 7)).ok).toBe(false);
  });

  it('encodes an event that fits, and tells the size of one that does not', () => {
    expect(encodeSharedEvent('host-a', authRequired)).toEqual({ ok: true, payload: payload(authRequired) });
    const big = { ...authRequired, scopes: Array.from({ length: 400 }, (_, i) => `scope-${i}-xxxxxxxx`) };
    const encoded = encodeSharedEvent('host-a', big);
    expect(encoded.ok).toBe(false);
    expect(!encoded.ok && encoded.bytes).toBeGreaterThan(7_900);
  });

  it('reports an event too big to send, without its content, and sends the others', async () => {
    const sent: unknown[][] = [];
    const db = {
      // Nothing listens on port 1 of the loopback: the channel keeps trying to listen in the background.
      url: 'postgres://nanoclaw@127.0.0.1:1/nanoclaw',
      query: (_text: string, values: unknown[]) => {
        sent.push(values);
        return Promise.resolve({ rows: [] });
      },
      unavailable: (error: unknown) => error,
    } as unknown as PostgresDatabase;
    const events = new EventBus();
    const errors: unknown[] = [];
    const channel = await PgEventChannel.start({
      db,
      events,
      onError: (error) => errors.push(error),
      reconnectMs: { first: 60_000, max: 60_000 },
    });
    try {
      errors.length = 0;
      const secretScope = 'scope-secretish-value';
      events.emit({ ...authRequired, scopes: Array.from({ length: 400 }, () => secretScope) });
      events.emit(authRequired);
      expect(sent).toHaveLength(1);
      expect(errors).toHaveLength(1);
      const message = (errors[0] as Error).message;
      expect(message).toContain('auth_required');
      expect(message).not.toContain(secretScope);
      expect(message).not.toContain('alice');
    } finally {
      await channel.close();
    }
  });
});
