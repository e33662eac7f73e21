import { randomUUID } from 'node:crypto';
import { SandboxShuttingDownError } from '../../src/sandbox/sandbox-errors.js';
import type { RunRequest, RunResult } from '../../src/sandbox/skill-runner.js';
import type { SkillRunnerPort } from '../../src/web/skills/skill-runs.js';

export type FakeRunnerPort = SkillRunnerPort & { readonly stopAllCalls: number };

/**
 * A runner for tests without Docker: `run` plays a run (usually on the event bus); start, stopAll
 * and the count of runs in progress behave as `SkillRunner`'s do.
 */
export function fakeRunnerPort(run: (request: RunRequest) => Promise<RunResult>): FakeRunnerPort {
  const active = new Map<string, { controller: AbortController; done: Promise<RunResult> }>();
  let stopping = false;
  let stopAllCalls = 0;
  return {
    start(request) {
      if (stopping) throw new SandboxShuttingDownError();
      const runId = randomUUID();
      const controller = new AbortController();
      const done = run({ ...request, runId, signal: controller.signal }).finally(() => active.delete(runId));
      active.set(runId, { controller, done });
      return { runId, done };
    },
    async stopAll() {
      stopAllCalls++;
      stopping = true;
      const runs = [...active.values()];
      for (const each of runs) each.controller.abort(new Error('shutting down'));
      await Promise.allSettled(runs.map((each) => each.done));
    },
    get activeRuns() {
      return active.size;
    },
    get stopAllCalls() {
      return stopAllCalls;
    },
  };
}
