import { describeError } from '../../errors.js';
import type { EventBus } from '../../events/event-bus.js';
import { EXIT_FAILED } from '../../exit-codes.js';
import type { Logger } from '../../log/logger.js';
import type { Skill, SkillProblem } from '../../sandbox/skill-catalog.js';
import type { RunRequest, RunResult } from '../../sandbox/skill-runner.js';

/** The part of the skill runner the API uses; the runner keeps the one record of runs. */
export interface SkillRunnerPort {
  start(request: Omit<RunRequest, 'runId' | 'signal'>): { runId: string; done: Promise<RunResult> };
  stopAll(): Promise<void>;
  readonly activeRuns: number;
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
 * Skill runs started over HTTP: they run in the background (output and the end arrive as events);
 * a run that could not start says so on the event stream, where the page is listening.
 */
export class SkillRuns {
  readonly #runner: SkillRunnerPort;
  readonly #catalog: SkillCatalogPort;
  readonly #events: EventBus;
  readonly #logger: Logger;

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
    return this.#runner.activeRuns;
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

  /** Starts a run and returns its id at once; throws only when the skill is unknown or the daemon stops. */
  start(skillName: string, owner: string, args: readonly string[]): { runId: string } {
    const skill = this.#catalog.get(skillName);
    const { runId, done } = this.#runner.start({ skill: skill.name, owner, args });
    done.then(
      (result) => {
        this.#logger.info({ runId, skill: skill.name, owner, exitCode: result.exitCode }, 'skill run ended');
      },
      (error: unknown) => {
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
    );
    return { runId };
  }

  /** Stops every run (their containers are stopped and removed) and waits for them. */
  stopAll(): Promise<void> {
    return this.#runner.stopAll();
  }
}
