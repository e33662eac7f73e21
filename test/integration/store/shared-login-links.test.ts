import { afterAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/events/event-bus.js';
import { silentLogger } from '../../../src/log/logger.js';
import { PgPageSessions } from '../../../src/store/postgres/pg-page-sessions.js';
import { PostgresDatabase } from '../../../src/store/postgres/postgres-database.js';
import { WebApp } from '../../../src/web/web-app.js';
import { postgresForTests } from '../../support/postgres.js';

const postgres = await postgresForTests();
const API_TOKEN = 'shared-login-links-api-token-0123456789';

afterAll(async () => {
  if (postgres.available) await postgres.drop();
});

describe.skipIf(!postgres.available)('login links and sessions behind a load balancer', () => {
  it('answers only once what it handed out works on every host, even when PostgreSQL is slow to write', async () => {
    if (!postgres.available) return;
    const dbA = new PostgresDatabase({ url: postgres.url });
    const dbB = new PostgresDatabase({ url: postgres.url });
    // Host A's writes land late, as on a busy database.
    const slowA = new Proxy(dbA, {
      get(target, name, receiver) {
        if (name !== 'query') return Reflect.get(target, name, receiver);
        return async (...args: Parameters<PostgresDatabase['query']>) => {
          await new Promise((resolve) => setTimeout(resolve, 300));
          return target.query(...args);
        };
      },
    });
    const onA = new PgPageSessions(slowA);
    const onB = new PgPageSessions(dbB);
    const { createRuntimeFromConfig } = await import('../../../src/app/runtime.js');
    const { resolveConfig } = await import('../../../src/config/resolve-config.js');
    const resolved = resolveConfig({}, { env: {}, cwd: '/tmp', configPath: null });
    if ('errors' in resolved) throw new Error(resolved.errors.join('\n'));
    const runtime = createRuntimeFromConfig(resolved.config, [], { logger: silentLogger() });
    const web = await WebApp.start({
      config: resolved.config,
      logger: silentLogger(),
      events: new EventBus(),
      tokenSync: runtime.tokenSync,
      sources: runtime.sources,
      apiToken: API_TOKEN,
      host: '127.0.0.1',
      port: 0,
      publicUrl: null,
      sessions: onA,
    });
    try {
      const made = await fetch(`${web.url}/api/login-links`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(made.status).toBe(201);
      const code = new URL(((await made.json()) as { url: string }).url).searchParams.get('token')!;
      // Opened at once on host B: it is already there.
      expect(await onB.redeemLoginCode(code)).toBe(true);

      const login = await fetch(`${web.url}/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: web.url },
        body: JSON.stringify({ token: API_TOKEN }),
      });
      expect(login.status).toBe(200);
      const session = login.headers
        .getSetCookie()
        .find((line) => line.startsWith('nanoclaw_session='))!
        .split(';')[0]!
        .split('=')[1];
      expect(await onB.isValidSession(session)).toBe(true);
    } finally {
      await web.close();
      await onA.flush();
      await runtime.close();
      await Promise.all([dbA.close(), dbB.close()]);
    }
  }, 30_000);
});
