import { describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/events/event-bus.js';
import { EventLog } from '../../../src/web/events/event-log.js';

function emitMany(bus: EventBus, count: number, from = 0) {
  for (let index = from; index < from + count; index++) {
    bus.emit({ type: 'token_synced', owner: `owner-${index}`, provider: 'github', expiresAt: null });
  }
}

const owners = (replay: ReturnType<EventLog['since']>) =>
  replay.events.map((entry) => (entry.event.type === 'token_synced' ? entry.event.owner : ''));

describe('EventLog', () => {
  it('gives every event an id and replays what came after a given one', () => {
    const bus = new EventBus();
    const log = new EventLog(bus, 10);
    expect(log.lastId).toBeNull();
    emitMany(bus, 4);
    const all = log.since(null);
    expect(all.gap).toBe(false);
    expect(owners(all)).toEqual(['owner-0', 'owner-1', 'owner-2', 'owner-3']);
    const second = all.events[1]!.id;
    expect(owners(log.since(second))).toEqual(['owner-2', 'owner-3']);
    expect(log.since(log.lastId)).toEqual({ events: [], gap: false });
  });

  it('keeps only the newest events, and says when a reader missed some', () => {
    const bus = new EventBus();
    const log = new EventLog(bus, 5);
    emitMany(bus, 3);
    const old = log.lastId!;
    emitMany(bus, 10, 3);
    const replay = log.since(old);
    expect(replay.gap).toBe(true);
    expect(owners(replay)).toEqual(['owner-8', 'owner-9', 'owner-10', 'owner-11', 'owner-12']);
    // The reader saw the event just before the oldest one held (owner-7, sequence 8): nothing missed.
    const edge = log.since(replay.events[0]!.id.replace(/-\d+$/, '-8'));
    expect(edge.gap).toBe(false);
    expect(owners(edge)).toEqual(['owner-8', 'owner-9', 'owner-10', 'owner-11', 'owner-12']);
    expect(log.since(replay.events[0]!.id.replace(/-\d+$/, '-7')).gap).toBe(true);
  });

  it('treats ids from another run, from the future or malformed as a gap', () => {
    const bus = new EventBus();
    const log = new EventLog(bus, 5);
    emitMany(bus, 2);
    const run = log.lastId!.split('-')[0]!;
    for (const id of ['00000000-1', `${run}-99`, 'garbage', `${run}-`]) {
      const replay = log.since(id);
      expect(replay.gap).toBe(true);
      expect(replay.events).toHaveLength(2);
    }
  });

  it('passes new events to subscribers until they unsubscribe, and lets go of the bus on dispose', () => {
    const bus = new EventBus();
    const log = new EventLog(bus);
    const seen: string[] = [];
    const stop = log.subscribe((entry) => seen.push(entry.id));
    emitMany(bus, 2);
    stop();
    emitMany(bus, 1);
    expect(seen).toHaveLength(2);
    expect(log.subscriberCount).toBe(0);
    log.dispose();
    expect(bus.listenerCount).toBe(0);
  });
});
