import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeNangoServer } from '../../support/fake-nango-server.js';
import { createProject, expectNoSecrets, spawnConnect, type Project } from './connect-fixture.js';

const PROVIDER = 'google-calendar';

let nango: FakeNangoServer;
let project: Project;

beforeEach(async () => {
  nango = await FakeNangoServer.start();
  project = await createProject(
    { providers: [{ name: PROVIDER, scopes: ['calendar.readonly'] }] },
    { NANGO_SECRET_KEY: nango.secretKey, NANGO_HOST: nango.url },
  );
});

afterEach(async () => {
  await nango.close();
  await project[Symbol.asyncDispose]();
});

describe('nanoclaw connect for a Nango provider', () => {
  it('prints the connect link, waits for the new connection, records it and writes the token', async () => {
    // An older connection of the same owner is not the one the link makes.
    const older = nango.addConnection({ integration: PROVIDER, endUserId: 'alice' });
    const run = spawnConnect(['connect', PROVIDER, '--owner', 'alice', '--json'], project);

    const authorize = JSON.parse(await run.stdout.nextLine()) as Record<string, unknown>;
    const session = nango.connectSessions[0]!;
    expect(nango.connectSessions).toHaveLength(1);
    expect(session).toMatchObject({ endUserId: 'alice', allowedIntegrations: [PROVIDER] });
    expect(authorize).toEqual({
      type: 'authorize',
      provider: PROVIDER,
      owner: 'alice',
      source: 'nango',
      url: `${nango.url}/?session_token=${session.token}&apiURL=${encodeURIComponent(nango.url)}`,
      via: 'nango',
      expiresAt: session.expiresAt.toISOString(),
    });

    // The owner finishes in Nango's Connect UI a little later, while connect polls.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const made = nango.completeConnectSession(session.token, PROVIDER);

    expect(await run.exited).toEqual({ code: 0, signal: null });
    const lines = run.stdout.text.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[1]!)).toMatchObject({
      type: 'result',
      outcome: 'connected',
      result: { owner: 'alice', provider: PROVIDER, state: 'refreshed', usable: true, fetched: true },
    });
    const file = project.tokenPath('alice', PROVIDER);
    expect((await stat(file)).mode & 0o777).toBe(0o640);
    const token = JSON.parse(await readFile(file, 'utf8')) as { access_token: string };
    // Synced from the new connection, which is what the owner's provider now maps to; checked
    // again, not refreshed: the provider just issued this token.
    expect(nango.requestsTo('getConnection').map((request) => request.connectionId)).toEqual([
      made.connectionId,
    ]);
    expect(nango.requestsTo('getConnection')[0]!.query.force_refresh).not.toBe('true');
    expect(token.access_token).toBe(nango.getConnection(PROVIDER, made.connectionId)!.accessToken);
    const registry = await readFile(path.join(project.dataDir, 'nango-connections.json'), 'utf8');
    expect(registry).toContain(made.connectionId);
    expect(registry).not.toContain(older.connectionId);
    expectNoSecrets(run.stdout.text + run.stderr.text, nango.secrets);
  });

  it('with --no-wait prints the link for people and exits 0 at once', async () => {
    const run = spawnConnect(['connect', PROVIDER, '--no-wait'], project);
    expect(await run.exited).toEqual({ code: 0, signal: null });
    const session = nango.connectSessions[0]!;
    expect(session.endUserId).toBe('main');
    expect(run.stdout.text.split('\n')[0]).toBe(
      // A self-hosted Nango: the link names its API, or the Connect UI would call Nango Cloud.
      `Open this link to connect ${PROVIDER} for owner main: ${nango.url}/?session_token=${session.token}` +
        `&apiURL=${encodeURIComponent(nango.url)}`,
    );
    expect(run.stdout.text).toContain('Not waiting.');
    // Nobody looked for a connection.
    expect(nango.requestsTo('listConnections')).toHaveLength(0);
    await expect(stat(project.tokenPath('main', PROVIDER))).rejects.toThrow();
  });

  it('exits 3 when the owner does not connect within --timeout', async () => {
    const run = spawnConnect(['connect', PROVIDER, '--owner', 'bob', '--timeout', '1'], project);
    expect(await run.exited).toEqual({ code: 3, signal: null });
    expect(run.stdout.text).toContain(`${PROVIDER} was not authorized for owner bob within 1s.`);
    expect(nango.requestsTo('listConnections').length).toBeGreaterThanOrEqual(2);
    await expect(stat(project.tokenPath('bob', PROVIDER))).rejects.toThrow();
  });
});
