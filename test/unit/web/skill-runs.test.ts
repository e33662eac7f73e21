import { describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/events/event-bus.js';
import type { NanoclawEvent } from '../../../src/events/types.js';
import { silentLogger } from '../../../src/log/logger.js';
import type { Skill } from '../../../src/sandbox/skill-catalog.js';
import { UnknownSkillError } from '../../../src/sandbox/sandbox-errors.js';
import type { RunRequest, RunResult } from '../../../src/sandbox/skill-runner.js';
import {
  SkillRuns,
  type SkillCatalogPort,
  type SkillRunnerPort,
} from '../../../src/web/skills/skill-runs.js';

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
  let stopAllCalls = 0;
  const runner: SkillRunnerPort = {
    run,
    stopAll: async () => {
      stopAllCalls++;
    },
  };
  const runs = new SkillRuns({ runner, catalog, events, logger: silentLogger() });
  return { runs, seen, stopAllCalls: () => stopAllCalls };
}

describe('SkillRuns', () => {
  it('answers with the run id at once and passes it to the runner', async () => {
    const requests: RunRequest[] = [];
    const { runs } = setup(async (request) => {
      requests.push(request);
      return {
        runId: request.runId!,
        skill: 'echo',
        owner: request.owner,
        exitCode: 0,
        reason: 'exited',
        authRequired: [],
      };
    });
    const { runId } = runs.start('echo', 'alice', ['x']);
    expect(requests[0]).toMatchObject({ skill: 'echo', owner: 'alice', args: ['x'], runId });
    expect(runs.activeRuns).toBe(1);
    await runs.stopAll();
    expect(runs.activeRuns).toBe(0);
  });

  it('throws for an unknown skill without starting anything', () => {
    const { runs } = setup(() => Promise.reject(new Error('not called')));
    expect(() => runs.start('nope', 'alice', [])).toThrow(UnknownSkillError);
    expect(runs.activeRuns).toBe(0);
  });

  it('aborts every run on stopAll, waits for them, and takes no new ones', async () => {
    let aborted = 0;
    const { runs, stopAllCalls } = setup(
      (request) =>
        new Promise((resolve) =>
          request.signal!.addEventListener('abort', () => {
            aborted++;
            resolve({
              runId: request.runId!,
              skill: 'echo',
              owner: request.owner,
              exitCode: 130,
              reason: 'aborted',
              authRequired: [],
            });
          }),
        ),
    );
    runs.start('echo', 'a', []);
    runs.start('echo', 'b', []);
    await runs.stopAll();
    expect(aborted).toBe(2);
    expect(stopAllCalls()).toBe(1);
    expect(() => runs.start('echo', 'c', [])).toThrow('shutting down');
  });
});
