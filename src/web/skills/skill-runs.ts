import { randomUUID } from 'node:crypto';
import { describeError } from '../../errors.js';
import type { EventBus } from '../../events/event-bus.js';
import type { Logger } from '../../log/logger.js';
import type { Skill, SkillProblem } from '../../sandbox/skill-catalog.js';
import { EXIT_FAILED } from '../../exit-codes.js';
import type { RunRequest, RunResult } from '../../sandbox/skill-runner.js';

/** The part of the skill runner the API uses. */
export interface SkillRunnerPort {
  run(request: RunRequest): Promise<RunResult>;
  stopAll(): Promise<void>;
}

/** The part of the skill catalog the API uses. */
export interface SkillCatalogPort {
  list(): Skill[];
  problems(): SkillProblem[];
  get(name: string): Skill;
}

export interface SkillSummary {
  name: string;
  description: string;
  providers: { name: string; scopes: string[] }[];
  timeoutSeconds: number;
}

/**
 * Skill runs started over HTTP: they run in the background (output and the end arrive as events),
 * each under its own abort, and shutdown stops them all and waits for their containers to go.
 */
export class SkillRuns {
  readonly #runner: SkillRunnerPort;
  readonly #catalog: SkillCatalogPort;
  readonly #events: EventBus;
  readonly #logger: Logger;
  readonly #active = new Map<string, { controller: AbortController; done: Promise<void> }>();
  #stopping = false;

  constructor(options: {
    runner: SkillRunnerPort;
    catalog: SkillCatalogPort;
    events: EventBus;
    logger: Logger;
  }) {
    this.#runner = options.runner;
    this.#catalog = options.catalog;
    this.#events = options.events;
    this.#logger = options.logger;
  }

  get activeRuns(): number {
    return this.#active.size;
  }

  list(): { skills: SkillSummary[]; problems: SkillProblem[] } {
    return {
      skills: this.#catalog.list().map((skill) => ({
        name: skill.name,
        description: skill.description,
        providers: skill.providers.map((provider) => ({ name: provider.name, scopes: provider.scopes })),
        timeoutSeconds: skill.timeoutSeconds,
      })),
      problems: this.#catalog.problems(),
    };
  }

  /** Starts a run and returns its id at once; throws only when the skill is unknown. */
  start(skillName: string, owner: string, args: readonly string[]): { runId: string } {
    if (this.#stopping) throw new Error('the daemon is shutting down');
    const skill = this.#catalog.get(skillName);
    const runId = randomUUID();
    const controller = new AbortController();
    const done = this.#runner
      .run({ skill: skill.name, owner, args, signal: controller.signal, runId })
      .then(
        (result) => {
          this.#logger.info(
            { runId, skill: skill.name, owner, exitCode: result.exitCode },
            'skill run ended',
          );
        },
        (error: unknown) => {
          // The run never started a container: say so on the event stream, where the page is listening.
          const { code, message } = describeError(error);
          this.#logger.warn({ runId, skill: skill.name, owner, code }, 'skill run failed to start');
          this.#events.emit({ type: 'error', code, message, owner, skill: skill.name });
          this.#events.emit({
            type: 'skill_exited',
            owner,
            skill: skill.name,
            runId,
            exitCode: EXIT_FAILED,
            reason: 'failed',
          });
        },
      )
      .finally(() => this.#active.delete(runId));
    this.#active.set(runId, { controller, done });
    return { runId };
  }

  /** Stops every run (their containers are stopped and removed) and waits for them. */
  async stopAll(): Promise<void> {
    this.#stopping = true;
    const runs = [...this.#active.values()];
    for (const run of runs) run.controller.abort(new Error('the daemon is shutting down'));
    await Promise.allSettled([this.#runner.stopAll(), ...runs.map((run) => run.done)]);
  }
}
