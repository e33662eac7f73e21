import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeNangoServer } from '../../support/fake-nango-server.js';
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
  /** Every byte received, as text. */
  raw = '';
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
    this.raw += text;
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
let nango: FakeNangoServer | undefined;

afterEach(async () => {
  await daemon?.close();
  await nango?.close();
  nango = undefined;
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
    nango = await FakeNangoServer.start();
    daemon = await TestDaemon.start({ nango });
    const client = await EventStreamClient.open(daemon);
    await waitFor(() => daemon.daemon.web.context.eventLog.subscriberCount === 1);
    const connection = nango.addConnection({ integration: 'google-calendar', endUserId: 'main' });

    // Nango tells the daemon of the new connection; the daemon fetches the token and writes it.
    const webhook = await daemon.webhook(
      JSON.stringify({
        from: 'nango',
        type: 'auth',
        operation: 'creation',
        success: true,
        connectionId: connection.connectionId,
        providerConfigKey: 'google-calendar',
        provider: 'google-calendar',
        authMode: 'OAUTH2',
        environment: 'dev',
        endUser: { endUserId: 'main', endUserEmail: null, tags: {} },
      }),
    );
    expect(webhook.status).toBe(200);
    await waitFor(() => client.events.some((message) => message.event === 'token_synced'), 5000, 'sync');
    const synced = client.events.find((message) => message.event === 'token_synced')!;
    expect(JSON.parse(synced.data!)).toMatchObject({
      type: 'token_synced',
      owner: 'main',
      provider: 'google-calendar',
    });
    // The token the event is about really went through: it is in the file, and nowhere on the stream.
    const file = path.join(daemon.dir, 'data', 'tokens', 'main', 'google-calendar.json');
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ access_token: connection.accessToken });
    for (const secret of [connection.accessToken, connection.refreshToken, daemon.token, nango.secretKey]) {
      expect(client.raw).not.toContain(secret);
    }
    await client.close();
  });
});
