import { afterEach, describe, expect, it, vi } from 'vitest';
import { EventBus } from '../../../src/events/event-bus.js';
import { EventLog } from '../../../src/web/events/event-log.js';
import { EventStreamHub, formatSseEvent } from '../../../src/web/events/event-stream-hub.js';
import type { EventStream } from '../../../src/web/server/route.js';

class MemoryStream implements EventStream {
  text = '';
  closed = false;
  #listeners: Array<() => void> = [];
  write(text: string): boolean {
    if (this.closed) return false;
    this.text += text;
    return true;
  }
  onClose(listener: () => void): void {
    this.#listeners.push(listener);
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const listener of this.#listeners) listener();
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('EventStreamHub', () => {
  it('starts a first connection with no history, and replays for a reconnect', () => {
    const bus = new EventBus();
    const log = new EventLog(bus);
    const hub = new EventStreamHub(log);
    bus.emit({ type: 'token_synced', owner: 'a', provider: 'github', expiresAt: null });
    const seen = log.lastId!;
    bus.emit({ type: 'token_synced', owner: 'b', provider: 'github', expiresAt: null });
    const fresh = new MemoryStream();
    hub.attach(fresh, null);
    expect(fresh.text).toBe('retry: 2000\n: connected\n\n');
    const again = new MemoryStream();
    hub.attach(again, seen);
    expect(again.text).toMatch(
      /^retry: 2000\n: connected\n\nid: [0-9a-f]{8}-2\nevent: token_synced\ndata: \{/,
    );
    expect(again.text).not.toContain('"owner":"a"');
    hub.close();
  });

  it('streams live events, then lets go when the stream closes', () => {
    const bus = new EventBus();
    const log = new EventLog(bus);
    const hub = new EventStreamHub(log);
    const stream = new MemoryStream();
    hub.attach(stream, null);
    bus.emit({ type: 'token_needs_auth', owner: 'b', provider: 'github', reason: 'line\nbreak' });
    expect(stream.text).toContain('event: token_needs_auth\ndata: {"type":"token_needs_auth","owner":"b"');
    // A newline in a field stays inside the JSON string: it cannot start an SSE field of its own.
    expect(stream.text).toContain('"reason":"line\\nbreak"');
    stream.close();
    expect(log.subscriberCount).toBe(0);
    expect(hub.size).toBe(0);
  });

  it('sends one heartbeat comment per interval to every stream, with one timer', () => {
    vi.useFakeTimers();
    const log = new EventLog(new EventBus());
    const hub = new EventStreamHub(log, { heartbeatMs: 15_000 });
    const streams = [new MemoryStream(), new MemoryStream()];
    for (const stream of streams) hub.attach(stream, null);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(30_000);
    for (const stream of streams) expect(stream.text.match(/: heartbeat\n\n/g)).toHaveLength(2);
    hub.close();
    expect(streams.every((stream) => stream.closed)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('formats one event as id, event and one data line', () => {
    expect(
      formatSseEvent({
        id: 'abcdef01-3',
        event: {
          type: 'token_synced',
          owner: 'a',
          provider: 'p',
          expiresAt: null,
          at: '2030-01-01T00:00:00.000Z',
        },
      }),
    ).toBe(
      'id: abcdef01-3\nevent: token_synced\ndata: {"type":"token_synced","owner":"a","provider":"p","expiresAt":null,"at":"2030-01-01T00:00:00.000Z"}\n\n',
    );
  });
});
