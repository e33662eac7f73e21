import { stat } from 'node:fs/promises';
import path from 'node:path';
import { describeError } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { Logger } from '../log/logger.js';
import { SKILL_NAME_PATTERN } from '../names.js';
import type { ReloadOutcome } from '../sandbox/skill-catalog.js';
import { Debouncer } from './debouncer.js';
import { watchFiles, type FileWatcher } from './file-watcher.js';

const MANIFEST_FILE = 'skill.yaml';

export interface SkillWatcherOptions {
  skillsDir: string;
  catalog: { reload(name: string, signal?: AbortSignal): Promise<ReloadOutcome> };
  events: EventBus;
  logger: Logger;
  debounceMs?: number;
}

/**
 * A new, changed or deleted `skills/<name>/skill.yaml` takes effect without a restart. An invalid
 * one keeps the previous version in use and is reported as an `error` event.
 */
export class SkillWatcher {
  readonly #options: SkillWatcherOptions;
  readonly #debouncer: Debouncer;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #controller = new AbortController();
  #watcher: FileWatcher | null = null;

  private constructor(options: SkillWatcherOptions) {
    this.#options = options;
    this.#debouncer = new Debouncer(options.debounceMs ?? 100);
  }

  /** Starts watching; null when the skills folder does not exist (nothing to watch). */
  static async start(options: SkillWatcherOptions): Promise<SkillWatcher | null> {
    const exists = await stat(options.skillsDir).then(
      (info) => info.isDirectory(),
      () => false,
    );
    if (!exists) {
      options.logger.info({ skillsDir: options.skillsDir }, 'no skills folder; not watching for skills');
      return null;
    }
    const watcher = new SkillWatcher(options);
    watcher.#watcher = await watchFiles({
      root: options.skillsDir,
      depth: 1,
      ignoreInitial: true,
      onEvent: (event) => watcher.#onFileEvent(event.path),
      onError: (error) => options.logger.error(describeError(error), 'skills folder watcher failed'),
    });
    return watcher;
  }

  async close(): Promise<void> {
    this.#debouncer.close();
    this.#controller.abort(new Error('the skill watcher is closing'));
    await this.#watcher?.close();
    this.#watcher = null;
    await Promise.allSettled([...this.#inFlight]);
  }

  #onFileEvent(file: string): void {
    const parts = path.relative(this.#options.skillsDir, file).split(path.sep);
    if (parts.length !== 2 || parts[1] !== MANIFEST_FILE) return;
    const name = parts[0]!;
    if (!SKILL_NAME_PATTERN.test(name) || this.#controller.signal.aborted) return;
    this.#debouncer.schedule(name, () => {
      const work = this.#reload(name)
        .catch((error: unknown) => this.#options.logger.error(describeError(error), 'skill reload failed'))
        .finally(() => this.#inFlight.delete(work));
      this.#inFlight.add(work);
    });
  }

  async #reload(name: string): Promise<void> {
    const { catalog, events, logger } = this.#options;
    const outcome = await catalog.reload(name, this.#controller.signal);
    if (outcome.status === 'invalid') {
      const { problem, kept } = outcome;
      events.emit({
        type: 'error',
        code: problem.code,
        message: `${problem.file}: ${problem.problems.join('; ')}${kept ? ' (the previous version stays in use)' : ''}`,
        skill: name,
      });
      logger.warn({ skill: name, code: problem.code }, 'skill manifest is invalid');
    } else {
      logger.info({ skill: name, status: outcome.status }, 'skill manifest reloaded');
    }
  }
}
