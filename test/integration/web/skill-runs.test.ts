import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SkillCatalog } from '../../../src/sandbox/skill-catalog.js';
import type { RunRequest, RunResult } from '../../../src/sandbox/skill-runner.js';
import { fakeRunnerPort, type FakeRunnerPort } from '../../support/fake-runner-port.js';
import { TestDaemon, waitFor } from './daemon-harness.js';

/** Plays a skill run on the event bus the way the real runner does, without Docker. */
class FakeRunner {
  readonly requests: RunRequest[] = [];
  #release: Array<() => void> = [];

  constructor(private readonly daemon: () => TestDaemon) {}

  async run(request: RunRequest): Promise<RunResult> {
    this.requests.push(request);
    if (request.skill === 'broken')
      throw Object.assign(new Error('no such image'), { code: 'IMAGE_NOT_FOUND' });
    const events = this.daemon().runtime.events;
    const runId = request.runId!;
    const base = { owner: request.owner, skill: request.skill, runId };
    events.emit({ type: 'skill_started', ...base });
    events.emit({
      type: 'skill_output',
      ...base,
      stream: 'stdout',
      line: `args: ${(request.args ?? []).join(' ')}`,
    });
    await new Promise<void>((resolve) => {
      this.#release.push(resolve);
      request.signal?.addEventListener('abort', () => resolve(), { once: true });
    });
    const aborted = request.signal?.aborted ?? false;
    const result: RunResult = {
      ...base,
      exitCode: aborted ? 130 : 0,
      reason: aborted ? 'aborted' : 'exited',
      authRequired: [],
    };
    events.emit({ type: 'skill_exited', ...base, exitCode: result.exitCode, reason: result.reason });
    return result;
  }

  finishAll(): void {
    for (const release of this.#release.splice(0)) release();
  }

  readonly port: FakeRunnerPort = fakeRunnerPort((request) => this.run(request));
}

let daemon: TestDaemon | null = null;
let skillsDir: string | null = null;

afterEach(async () => {
  await daemon?.close();
  daemon = null;
  if (skillsDir) await rm(skillsDir, { recursive: true, force: true });
  skillsDir = null;
});

async function startWithSkills(): Promise<{ daemon: TestDaemon; runner: FakeRunner }> {
  const runner = new FakeRunner(() => daemon!);
  skillsDir = await mkdtemp(path.join(tmpdir(), 'nanoclaw-skills-'));
  for (const name of ['echo', 'broken']) {
    await mkdir(path.join(skillsDir, name), { recursive: true });
    await writeFile(
      path.join(skillsDir, name, 'skill.yaml'),
      `name: ${name}\ndescription: says what it got\ncommand: ['python3', 'main.py']\n`,
    );
  }
  const catalog = await SkillCatalog.load(skillsDir);
  daemon = await TestDaemon.start({ daemon: { skills: { catalog, runner: runner.port }, watch: false } });
  return { daemon, runner };
}

describe('skills over HTTP', () => {
  it('lists skills and starts a run in the background, answering 202 with its id', async () => {
    const { daemon, runner } = await startWithSkills();
    const list = await daemon.api('GET', '/api/skills');
    expect(list.body.skills.map((skill: { name: string }) => skill.name)).toEqual(['broken', 'echo']);

    const started = await daemon.api('POST', '/api/skills/echo/run', {
      body: { owner: 'alice', args: ['one', 'two'] },
    });
    expect(started.status).toBe(202);
    const runId = started.body.runId as string;
    expect(runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(started.body).toEqual({ runId, skill: 'echo', owner: 'alice' });
    expect(runner.requests[0]).toMatchObject({ skill: 'echo', owner: 'alice', args: ['one', 'two'], runId });

    await waitFor(() => daemon.events.some((event) => event.type === 'skill_output'));
    runner.finishAll();
    await waitFor(() => daemon.events.some((event) => event.type === 'skill_exited'));
    expect(
      daemon.events.filter((event) => 'runId' in event && event.runId === runId).map((event) => event.type),
    ).toEqual(['skill_started', 'skill_output', 'skill_exited']);
  });

  it('reports a run that cannot start as an error and a failed exit on the event stream', async () => {
    const { daemon } = await startWithSkills();
    const started = await daemon.api('POST', '/api/skills/broken/run', { body: {} });
    expect(started.status).toBe(202);
    expect(started.body.owner).toBe('main');
    await waitFor(() => daemon.events.some((event) => event.type === 'skill_exited'));
    expect(daemon.events).toEqual([
      expect.objectContaining({ type: 'error', code: 'IMAGE_NOT_FOUND', skill: 'broken', owner: 'main' }),
      expect.objectContaining({
        type: 'skill_exited',
        runId: started.body.runId,
        reason: 'failed',
        exitCode: 125,
      }),
    ]);
  });

  it('validates the skill name, owner and arguments', async () => {
    const { daemon, runner } = await startWithSkills();
    expect((await daemon.api('POST', '/api/skills/nope/run', { body: {} })).body.error.code).toBe(
      'UNKNOWN_SKILL',
    );
    const badName = await daemon.api('POST', '/api/skills/..%2Fetc/run', { body: {} });
    expect(badName.status).toBe(400);
    const badOwner = await daemon.api('POST', '/api/skills/echo/run', { body: { owner: 'a b' } });
    expect(badOwner.body.error.message).toMatch(/^body\.owner: /);
    const badArgs = await daemon.api('POST', '/api/skills/echo/run', { body: { args: [1] } });
    expect(badArgs.body.error.message).toBe('body.args[0]: expected a string');
    expect(runner.requests).toHaveLength(0);
  });

  it('stops runs in progress when the daemon shuts down', async () => {
    const { daemon, runner } = await startWithSkills();
    await daemon.api('POST', '/api/skills/echo/run', { body: {} });
    await waitFor(() => daemon.events.some((event) => event.type === 'skill_started'));
    await daemon.daemon.close();
    expect(runner.port.stopAllCalls).toBe(1);
    expect(runner.port.activeRuns).toBe(0);
    expect(daemon.events.at(-1)).toMatchObject({ type: 'skill_exited', reason: 'aborted' });
  });
});
