import { describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/events/event-bus.js';
import type { NanoclawEvent } from '../../../src/events/types.js';
import { silentLogger } from '../../../src/log/logger.js';
import type { Skill } from '../../../src/sandbox/skill-catalog.js';
import { UnknownSkillError } from '../../../src/sandbox/sandbox-errors.js';
import type { RunRequest, RunResult } from '../../../src/sandbox/skill-runner.js';
import { SkillRuns, type SkillCatalogPort } from '../../../src/web/skills/skill-runs.js';
import { fakeRunnerPort } from '../../support/fake-runner-port.js';

const skill = { name: 'echo', description: 'd', providers: [], timeoutSeconds: 5 } as unknown as Skill;
const catalog: SkillCatalogPort = {
  list: () => [skill],
  problems: () => [],
  get: (name) => {
    if (name !== 'echo') throw new UnknownSkillError(name);
    return skill;
  },
};

function setup(run: (request: RunRequest) => Promise<RunResult>) {
  const events = new EventBus();
  const seen: NanoclawEvent[] = [];
  events.subscribe((event) => seen.push(event));
  const runner = fakeRunnerPort(run);
  const runs = new SkillRuns({ runner, catalog, events, logger: silentLogger() });
  return { runs, seen, runner };
}

const exited = (request: RunRequest): RunResult => ({
  runId: request.runId!,
  skill: 'echo',
  owner: request.owner,
  exitCode: 0,
  reason: 'exited',
  authRequired: [],
});

describe('SkillRuns', () => {
  it('answers with the run id at once and passes the request to the runner, which keeps the record', async () => {
    const requests: RunRequest[] = [];
    let finish: () => void = () => {};
    const { runs } = setup(async (request) => {
      requests.push(request);
      await new Promise<void>((resolve) => (finish = resolve));
      return exited(request);
    });
    const { runId } = runs.start('echo', 'alice', ['x']);
    expect(requests[0]).toMatchObject({ skill: 'echo', owner: 'alice', args: ['x'], runId });
    expect(runs.activeRuns).toBe(1);
    finish();
    await new Promise((resolve) => setImmediate(resolve));
    expect(runs.activeRuns).toBe(0);
  });

  it('throws for an unknown skill without starting anything', () => {
    const { runs } = setup(() => Promise.reject(new Error('not called')));
    expect(() => runs.start('nope', 'alice', [])).toThrow(UnknownSkillError);
    expect(runs.activeRuns).toBe(0);
  });

  it('reports a run that could not start on the event stream: an error, then a failed exit', async () => {
    const { runs, seen } = setup(() =>
      Promise.reject(Object.assign(new Error('no such image'), { code: 'IMAGE_NOT_FOUND' })),
    );
    const { runId } = runs.start('echo', 'alice', []);
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([
      expect.objectContaining({ type: 'error', code: 'IMAGE_NOT_FOUND', owner: 'alice', skill: 'echo' }),
      expect.objectContaining({ type: 'skill_exited', runId, exitCode: 125, reason: 'failed' }),
    ]);
  });

  it("stopAll is the runner's: it stops every run and takes no new ones", async () => {
    const { runs, runner } = setup(
      (request) =>
        new Promise((resolve) =>
          request.signal!.addEventListener('abort', () => resolve({ ...exited(request), reason: 'aborted' })),
        ),
    );
    runs.start('echo', 'a', []);
    runs.start('echo', 'b', []);
    await runs.stopAll();
    expect(runner.stopAllCalls).toBe(1);
    expect(runs.activeRuns).toBe(0);
    expect(() => runs.start('echo', 'c', [])).toThrow('shutting down');
  });
});
