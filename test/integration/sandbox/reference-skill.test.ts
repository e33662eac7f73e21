import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerForTests } from '../../support/docker.js';
import { FakeNangoServer } from '../../support/fake-nango-server.js';
import { SkillSandbox } from '../../support/skill-sandbox.js';

const docker = await dockerForTests();

describe.skipIf(!docker.available)('the reference skill in a real container', () => {
  let nango: FakeNangoServer;
  let sandbox: SkillSandbox;

  beforeAll(async () => {
    if (!docker.available) return;
    nango = await FakeNangoServer.start();
    sandbox = await SkillSandbox.create({
      nango,
      containers: docker.containers,
      providers: [{ name: 'google-calendar', scopes: ['calendar', 'calendar.events'] }],
      repoSkills: ['google-calendar'],
    });
  });

  afterAll(async () => {
    await sandbox?.close();
    await nango?.close();
  });

  it('prints AUTH_REQUIRED without a token, and the prompt carries the connect link from the source', async () => {
    const result = await sandbox.runner.run({ skill: 'google-calendar', owner: 'main', args: ['--check'] });

    expect(result).toMatchObject({
      exitCode: 0,
      reason: 'auth_required',
      authRequired: [{ provider: 'google-calendar', scopes: ['calendar', 'calendar.events'] }],
    });
    const [prompt] = sandbox.ofType('auth_required').filter((event) => event.runId === result.runId);
    expect(prompt).toMatchObject({ owner: 'main', provider: 'google-calendar', skill: 'google-calendar' });
    // The link is the one the (fake) Nango made for this owner's connect session.
    expect(prompt?.connectUrl).toMatch(/^https?:\/\//);
    expect(nango.connectSessions.map((session) => session.endUserId)).toContain('main');
    expect(sandbox.stdout(result.runId)).toEqual([]);
  });

  it('reads the token after the pre-launch sync, and never prints it', async () => {
    // An owner of its own: the test above relies on its owner having no connection.
    const owner = 'reader';
    const connection = nango.addConnection({
      integration: 'google-calendar',
      connectionId: owner,
      endUserId: owner,
      scope: 'calendar calendar.events',
    });
    const fetches = () => nango.requestsTo('getConnection', { connectionId: owner }).length;
    const result = await sandbox.runner.run({ skill: 'google-calendar', owner, args: ['--check'] });

    expect(result).toMatchObject({ exitCode: 0, reason: 'exited', authRequired: [] });
    expect(fetches()).toBe(1);
    const [line] = sandbox.stdout(result.runId);
    expect(JSON.parse(line ?? 'null')).toEqual({
      provider: 'google-calendar',
      expires_at: connection.expiresAt?.toISOString(),
      scopes: ['calendar', 'calendar.events'],
      token_type: expect.any(String),
      token_present: true,
    });

    // A second run finds the file fresh: no request reaches the source.
    const again = await sandbox.runner.run({ skill: 'google-calendar', owner, args: ['--check'] });
    expect(again.reason).toBe('exited');
    expect(fetches()).toBe(1);

    const everything = JSON.stringify(sandbox.events);
    for (const secret of nango.secrets) expect(everything).not.toContain(secret);
  });
});
