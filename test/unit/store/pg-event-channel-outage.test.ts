import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/events/event-bus.js';
import { PostgresStore } from '../../../src/store/postgres/postgres-store.js';

/** A port on 127.0.0.1 where nothing listens (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('shared events while PostgreSQL is out of reach', () => {
  it('drops what was raised during the failed send at once, says how many, and closes without waiting', async () => {
    const errors: Array<{ code?: string; message: string }> = [];
    const store = new PostgresStore({
      url: `postgres://nanoclaw:secret-password@127.0.0.1:${await closedPort()}/nanoclaw`,
      onError: (error) => errors.push(error as { code?: string; message: string }),
    });
    const bus = new EventBus();
    await store.shareEvents(bus);
    for (let index = 0; index < 250; index++) {
      bus.emit({ type: 'token_synced', owner: `owner-${index}`, provider: 'demo', expiresAt: null });
    }
    await store.close();
    const dropped = errors.filter((error) => /did not reach the other hosts/.test(error.message));
    // One report for the whole backlog, not a failed statement per 100 events.
    expect(dropped).toHaveLength(1);
    expect(dropped[0]).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(dropped[0]!.message).toMatch(
      /^250 events raised on this host did not reach the other hosts: .* \(ECONNREFUSED\)$/,
    );
    expect(errors.map((error) => error.message).join('\n')).not.toContain('secret-password');
  });
});
