import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SyncCommandJson } from '../../../src/cli/commands/sync.js';
import { createRuntime, type Runtime } from '../../../src/app/runtime.js';
import { silentLogger } from '../../../src/log/logger.js';
import { FakeNangoServer } from '../../support/fake-nango-server.js';
import { jsonOf, Project } from './project.js';

let server: FakeNangoServer;
let project: Project;
let runtime: Runtime | null = null;

beforeEach(async () => {
  server = await FakeNangoServer.start({ latencyMs: 30 });
});
afterEach(async () => {
  await runtime?.close();
  runtime = null;
  const leaks = project.leaks(server.secrets);
  await server.close();
  await project.remove();
  expect(leaks).toEqual([]);
});

function providers(count: number) {
  return Array.from({ length: count }, (_, index) => ({
    name: `provider-${String(index).padStart(2, '0')}`,
  }));
}

describe('one in-flight fetch per (owner, provider)', () => {
  it('20 concurrent syncs of one token make exactly one upstream getConnection', async () => {
    project = await Project.create(server, { providers: [{ name: 'github' }] });
    const connection = server.addConnection({ integration: 'github', endUserId: 'main' });
    runtime = await createRuntime({ cwd: project.dir, env: project.env, logger: silentLogger() });

    const results = await Promise.all(
      Array.from({ length: 20 }, () => runtime!.tokenSync.sync('main', 'github')),
    );
    expect(server.requestsTo('getConnection')).toHaveLength(1);
    expect(server.requestsTo('listConnections')).toHaveLength(1);
    expect(results.every((result) => result.state === 'refreshed' && result.usable)).toBe(true);
    expect((await project.readToken('main', 'github')).access_token).toBe(connection.accessToken);

    server.resetStats();
    const forced = await Promise.all(
      Array.from({ length: 20 }, () => runtime!.tokenSync.sync('main', 'github', { force: true })),
    );
    expect(server.requestsTo('getConnection')).toHaveLength(1);
    expect(server.requestsTo('getConnection')[0]!.query.force_refresh).toBe('true');
    expect(new Set(forced.map((result) => result.syncedAt)).size).toBe(1);
  });

  it('concurrent syncs of different owners each reach the source', async () => {
    project = await Project.create(server, { providers: [{ name: 'github' }] });
    for (const owner of ['alice', 'bob', 'carol'])
      server.addConnection({ integration: 'github', endUserId: owner });
    runtime = await createRuntime({ cwd: project.dir, env: project.env, logger: silentLogger() });
    await Promise.all(
      ['alice', 'bob', 'carol', 'alice', 'bob', 'carol'].map((owner) =>
        runtime!.tokenSync.sync(owner, 'github'),
      ),
    );
    expect(server.requestsTo('getConnection')).toHaveLength(3);
  });
});

describe('many providers in parallel under the concurrency bound', () => {
  it.each([
    [24, 4],
    [30, 10],
  ])('%i providers with a bound of %i: parallel, never more at once', async (count, bound) => {
    project = await Project.create(server, { providers: providers(count), refresh: { concurrency: bound } });
    for (const provider of providers(count))
      server.addConnection({ integration: provider.name, endUserId: 'main' });

    const run = await project.run(['sync', '--json']);
    expect(run.exitCode).toBe(0);
    expect(jsonOf<SyncCommandJson>(run).summary).toMatchObject({ total: count, usable: count });
    expect(server.requestsTo('getConnection')).toHaveLength(count);
    // One list serves every provider of the owner.
    expect(server.requestsTo('listConnections')).toHaveLength(1);
    expect(server.maxConcurrentRequests).toBeLessThanOrEqual(bound);
    expect(server.maxConcurrentRequests).toBeGreaterThan(1);
  });
});
