import { afterEach, describe, expect, it } from 'vitest';
import { TestDaemon, waitFor } from './daemon-harness.js';

interface SseMessage {
  id: string | null;
  event: string | null;
  data: string | null;
  comment: string | null;
}

/** Reads `/api/events` as a browser would, message by message. */
class EventStreamClient {
  readonly messages: SseMessage[] = [];
  #buffer = '';
  readonly #controller = new AbortController();
  done: Promise<void> = Promise.resolve();

  static async open(daemon: TestDaemon, headers: Record<string, string> = {}): Promise<EventStreamClient> {
    const client = new EventStreamClient();
    const response = await fetch(`${daemon.url}/api/events`, {
      headers: { authorization: `Bearer ${daemon.token}`, ...headers },
      signal: client.#controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    client.done = (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          client.#feed(value);
        }
      } catch {
        // Aborted by close().
      }
    })();
    return client;
  }

  get events(): SseMessage[] {
    return this.messages.filter((message) => message.event !== null);
  }

  #feed(text: string): void {
    this.#buffer += text;
    let end: number;
    while ((end = this.#buffer.indexOf('\n\n')) >= 0) {
      const block = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      const message: SseMessage = { id: null, event: null, data: null, comment: null };
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) message.comment = line.slice(1).trim();
        else if (line.startsWith('id: ')) message.id = line.slice(4);
        else if (line.startsWith('event: ')) message.event = line.slice(7);
        else if (line.startsWith('data: ')) message.data = line.slice(6);
      }
      this.messages.push(message);
    }
  }

  async close(): Promise<void> {
    this.#controller.abort();
    await this.done;
  }
}

let daemon: TestDaemon;

afterEach(async () => {
  await daemon?.close();
});

function emitSynced(owner: string) {
  daemon.runtime.events.emit({ type: 'token_synced', owner, provider: 'google-calendar', expiresAt: null });
}

describe('GET /api/events', () => {
  it('streams events with ids, and replays what a reconnect missed after Last-Event-ID', async () => {
    daemon = await TestDaemon.start();
    const first = await EventStreamClient.open(daemon);
    await waitFor(() => daemon.daemon.web.context.eventLog.subscriberCount === 1);
    emitSynced('a');
    emitSynced('b');
    await waitFor(() => first.events.length === 2, 5000, 'two events');
    expect(first.events.map((message) => message.event)).toEqual(['token_synced', 'token_synced']);
    expect(JSON.parse(first.events[0]!.data!)).toMatchObject({ type: 'token_synced', owner: 'a' });
    const lastSeen = first.events[1]!.id!;
    expect(lastSeen).toMatch(/^[0-9a-f]{8}-2$/);
    await first.close();
    await waitFor(() => daemon.daemon.web.context.eventLog.subscriberCount === 0, 5000, 'unsubscribe');

    // Missed while disconnected:
    emitSynced('c');
    daemon.runtime.events.emit({
      type: 'token_needs_auth',
      owner: 'd',
      provider: 'google-calendar',
      reason: 'gone',
    });

    const second = await EventStreamClient.open(daemon, { 'last-event-id': lastSeen });
    await waitFor(() => second.events.length === 2, 5000, 'replay');
    expect(second.events.map((message) => JSON.parse(message.data!).owner)).toEqual(['c', 'd']);
    expect(second.messages.some((message) => message.event === 'gap')).toBe(false);
    emitSynced('e');
    await waitFor(() => second.events.length === 3, 5000, 'live after replay');
    await second.close();
  });

  it('gives a first connection no history, so old prompts do not pop up on a page just opened', async () => {
    daemon = await TestDaemon.start();
    emitSynced('old');
    const client = await EventStreamClient.open(daemon);
    await waitFor(() => daemon.daemon.web.context.eventLog.subscriberCount === 1);
    emitSynced('new');
    await waitFor(() => client.events.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(client.events.map((message) => JSON.parse(message.data!).owner)).toEqual(['new']);
    await client.close();
  });

  it('replays everything held, marked as a gap, for an id from another daemon run', async () => {
    daemon = await TestDaemon.start();
    emitSynced('a');
    const client = await EventStreamClient.open(daemon, { 'last-event-id': 'deadbeef-7' });
    await waitFor(() => client.events.length === 2, 5000, 'gap and replay');
    expect(client.events.map((message) => message.event)).toEqual(['gap', 'token_synced']);
    await client.close();
  });

  it('keeps a bounded buffer: a reconnect far behind gets the newest 1000 and a gap', async () => {
    daemon = await TestDaemon.start();
    const client = await EventStreamClient.open(daemon);
    await waitFor(() => daemon.daemon.web.context.eventLog.subscriberCount === 1);
    emitSynced('first');
    await waitFor(() => client.events.length === 1);
    const firstId = client.events[0]!.id!;
    await client.close();
    for (let index = 0; index < 1500; index++) emitSynced(`owner-${index}`);

    const late = await EventStreamClient.open(daemon, { 'last-event-id': firstId });
    await waitFor(() => late.events.length === 1001, 10_000, 'bounded replay');
    expect(late.events[0]!.event).toBe('gap');
    expect(JSON.parse(late.events[1]!.data!).owner).toBe('owner-500');
    expect(JSON.parse(late.events[1000]!.data!).owner).toBe('owner-1499');
    await late.close();
  });

  it('sends heartbeat comments, and ends every stream on shutdown', async () => {
    daemon = await TestDaemon.start({ daemon: { heartbeatMs: 50 } });
    const client = await EventStreamClient.open(daemon);
    await waitFor(
      () => client.messages.filter((message) => message.comment === 'heartbeat').length >= 2,
      5000,
      'heartbeats',
    );
    await daemon.daemon.close();
    await client.done;
    expect(daemon.daemon.web.context.eventLog.subscriberCount).toBe(0);
  });

  it('never sends a token in an event', async () => {
    daemon = await TestDaemon.start();
    const client = await EventStreamClient.open(daemon);
    await waitFor(() => daemon.daemon.web.context.eventLog.subscriberCount === 1);
    daemon.runtime.events.emit({
      type: 'auth_required',
      owner: 'main',
      provider: 'google-calendar',
      scopes: ['calendar.readonly'],
      skill: 'google-calendar',
      runId: null,
      connectUrl: null,
    });
    await waitFor(() => client.events.length === 1);
    expect(client.events[0]!.data).not.toContain(daemon.token);
    await client.close();
  });
});
