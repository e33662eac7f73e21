import { mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SkillCatalog } from '../../../src/sandbox/skill-catalog.js';
import { fakeRunnerPort } from '../../support/fake-runner-port.js';
import { FakeNangoServer } from '../../support/fake-nango-server.js';
import { TestDaemon, waitFor } from '../web/daemon-harness.js';

const idleRunner = fakeRunnerPort(() => Promise.reject(new Error('not in this test')));

let nango: FakeNangoServer;
let daemon: TestDaemon;
let catalog: SkillCatalog;
let skillsDir: string;

async function writeSkill(name: string, manifest: string): Promise<void> {
  await mkdir(path.join(skillsDir, name), { recursive: true });
  await writeFile(path.join(skillsDir, name, 'skill.yaml'), manifest);
}

beforeEach(async () => {
  nango = await FakeNangoServer.start();
  skillsDir = await mkdtemp(path.join(tmpdir(), 'nanoclaw-skills-'));
  await writeSkill('hello', "name: hello\ndescription: first\ncommand: ['python3', 'main.py']\n");
  catalog = await SkillCatalog.load(skillsDir);
  daemon = await TestDaemon.start({
    nango,
    daemon: { skills: { catalog, runner: idleRunner } },
    env: { NANOCLAW_SKILLS_DIR: skillsDir },
  });
});

afterEach(async () => {
  await daemon.close();
  await nango.close();
  await rm(skillsDir, { recursive: true, force: true });
});

const tokenFile = (owner: string) => path.join(daemon.dir, 'data', 'tokens', owner, 'google-calendar.json');

async function connect(owner: string) {
  const connection = nango.addConnection({ integration: 'google-calendar', endUserId: owner });
  const response = await daemon.api('POST', '/api/auth/complete', {
    body: { owner, provider: 'google-calendar' },
  });
  expect(response.body.state).toBe('refreshed');
  return connection;
}

describe('token folder watcher', () => {
  it('restores a token file deleted by hand, from the source, at once', async () => {
    const connection = await connect('alice');
    nango.resetStats();
    await unlink(tokenFile('alice'));

    const restored = await waitFor(
      async () => readFile(tokenFile('alice'), 'utf8').catch(() => undefined),
      10_000,
      'restore',
    );
    expect(JSON.parse(restored).access_token).toBe(
      nango.getConnection('google-calendar', connection.connectionId)!.accessToken,
    );
    expect(nango.requestsTo('getConnection')).toHaveLength(1);
    // Asked again, without making the provider refresh: the lost file held a valid token.
    expect(nango.requestsTo('getConnection')[0]!.query.force_refresh).not.toBe('true');
  });

  it('has the refresher keep fresh a token file another process wrote while it runs, and follow its changes', async () => {
    // What a separate `nanoclaw sync` leaves: a complete file written by someone else.
    const written = (expiresAt: Date) =>
      JSON.stringify({
        provider: 'google-calendar',
        access_token: 'written-by-another-process',
        token_type: 'Bearer',
        expires_at: expiresAt.toISOString(),
        scopes: ['calendar.readonly'],
        synced_at: new Date().toISOString(),
      });
    expect(daemon.daemon.refresher.describe('bob', 'google-calendar')).toBeNull();
    await mkdir(path.dirname(tokenFile('bob')), { recursive: true });
    await writeFile(tokenFile('bob'), written(new Date(Date.now() + 2 * 3600_000)));

    const planned = await waitFor(
      async () => daemon.daemon.refresher.describe('bob', 'google-calendar')?.nextRefreshAt ?? undefined,
      10_000,
      'the refresher to plan the new file',
    );
    expect(Date.parse(planned)).toBeGreaterThan(Date.now());

    // Rewritten with a token that has expired: the refresher renews it at once, not in two hours.
    const connection = nango.addConnection({ integration: 'google-calendar', endUserId: 'bob' });
    await writeFile(tokenFile('bob'), written(new Date(Date.now() - 60_000)));
    await waitFor(
      async () => {
        const text = await readFile(tokenFile('bob'), 'utf8').catch(() => '{}');
        return (JSON.parse(text) as { access_token?: string }).access_token === connection.accessToken;
      },
      10_000,
      'the refresher to renew the changed file',
    );
  });

  it('restores a token file corrupted by hand', async () => {
    await connect('alice');
    await writeFile(tokenFile('alice'), '{"provider": "google-calendar", "access_tok');
    await waitFor(
      async () => {
        const text = await readFile(tokenFile('alice'), 'utf8');
        try {
          return typeof JSON.parse(text).access_token === 'string';
        } catch {
          return false;
        }
      },
      10_000,
      'repair',
    );
  });

  it('does not react to its own writes, nor to removals it announced', async () => {
    await connect('alice');
    nango.resetStats();
    // Our own atomic rewrite of the file: a forced sync with a new token.
    const result = await daemon.runtime.tokenSync.sync('alice', 'google-calendar', { force: true });
    expect(result.state).toBe('refreshed');
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(nango.requestsTo('getConnection')).toHaveLength(1);

    // A disconnect removes the file on purpose: it must stay removed.
    await daemon.api('DELETE', '/api/connections/alice/google-calendar');
    nango.resetStats();
    await new Promise((resolve) => setTimeout(resolve, 600));
    await expect(readFile(tokenFile('alice'))).rejects.toThrow();
    expect(nango.requests).toHaveLength(0);

    // The quiet above meant something only if the watcher still watches: a removal by hand is
    // restored, with one request of its own and none left over from before.
    const again = await connect('alice');
    nango.resetStats();
    await unlink(tokenFile('alice'));
    const restored = await waitFor(
      async () => readFile(tokenFile('alice'), 'utf8').catch(() => undefined),
      10_000,
      'restore',
    );
    expect(JSON.parse(restored).access_token).toBe(
      nango.getConnection('google-calendar', again.connectionId)!.accessToken,
    );
    expect(nango.requestsTo('getConnection')).toHaveLength(1);
  });
});

describe('skills folder watcher', () => {
  it('picks up a new and a changed skill.yaml without a restart', async () => {
    expect(catalog.get('hello').description).toBe('first');
    await writeSkill('hello', "name: hello\ndescription: second\ncommand: ['python3', 'main.py']\n");
    await writeSkill('added', "name: added\ncommand: ['python3', 'main.py']\n");
    await waitFor(
      () => catalog.find('hello')?.description === 'second' && catalog.find('added') !== undefined,
      10_000,
      'reload',
    );
    const listed = await daemon.api('GET', '/api/skills');
    expect(listed.body.skills.map((skill: { name: string }) => skill.name)).toEqual(['added', 'hello']);
  });

  it('keeps the old version of a skill whose new manifest is invalid, and says so', async () => {
    await writeSkill('hello', "name: hello\ncommand: 'not a list'\n");
    const error = await waitFor(
      () => daemon.events.find((event) => event.type === 'error'),
      10_000,
      'error event',
    );
    expect(error).toMatchObject({ type: 'error', code: 'INVALID_MANIFEST', skill: 'hello' });
    expect(error.type === 'error' && error.message).toMatch(/command: .*previous version stays in use/);
    expect(catalog.get('hello').description).toBe('first');
  });

  it('forgets a skill whose folder is deleted', async () => {
    await rm(path.join(skillsDir, 'hello'), { recursive: true });
    await waitFor(() => catalog.find('hello') === undefined, 10_000, 'removal');
  });
});
