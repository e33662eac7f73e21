import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { NanoclawConfig, ProviderConfig } from '../config/types.js';
import { describeError, UnknownProviderError } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import { EXIT_FAILED, EXIT_INTERRUPTED, EXIT_TIMEOUT } from '../exit-codes.js';
import type { SkillExitedEvent } from '../events/types.js';
import type { Logger } from '../log/logger.js';
import { validateOwnerId, validateRunId } from '../names.js';
import type { TokenSources } from '../sources/token-source.js';
import type { TokenSync } from '../tokens/token-sync.js';
import type { AuthRequest } from './auth-required-parser.js';
import { AuthPrompter } from './auth-prompter.js';
import {
  currentProcess,
  isLeftover,
  isProcessAlive,
  MANAGED_LABELS,
  type ContainerOwnerProcess,
} from './container-labels.js';
import type { ContainerRuntime, OutputChunk } from './container-runtime.js';
import { buildContainerSpec, ROOT_GID } from './container-spec.js';
import type { PreparedLaunch } from './launch.js';
import { LaunchPreparer } from './launch-preparer.js';
import type { OutputWatch } from './output-watch.js';
import {
  InvalidManifestError,
  SandboxShuttingDownError,
  SkillProviderNotConfiguredError,
} from './sandbox-errors.js';
import { checkSkillLimits } from './skill-manifest.js';
import type { Skill, SkillCatalog } from './skill-catalog.js';
import { SkillImages } from './skill-images.js';
import { SkillSnapshots } from './skill-snapshots.js';
import { TokenRedactor } from './token-redactor.js';

export type RunEndReason = SkillExitedEvent['reason'];

export interface RunRequest {
  skill: string;
  owner: string;
  /** Appended to the manifest's command. */
  args?: readonly string[];
  /** Cancels the run: the container is stopped and removed. */
  signal?: AbortSignal;
  /** A UUID for the run, when the caller must name it before the container starts (the HTTP API). */
  runId?: string;
}

export interface RunResult {
  runId: string;
  skill: string;
  owner: string;
  /** The skill's exit code; 124 on timeout, 130 when aborted, 125 when the runtime failed. */
  exitCode: number;
  reason: RunEndReason;
  /** Providers the skill asked authorization for, once each, in order. */
  authRequired: AuthRequest[];
}

export interface SkillRunnerOptions {
  config: Pick<NanoclawConfig, 'sandbox' | 'skillsDir' | 'dataDir'>;
  catalog: SkillCatalog;
  containers: ContainerRuntime;
  tokenSync: TokenSync;
  sources: TokenSources;
  events: EventBus;
  logger: Logger;
  images?: SkillImages;
  /** Time between SIGTERM and SIGKILL when a run is stopped. */
  stopGraceSeconds?: number;
  /** How long to wait for a token source to make a connect URL before announcing without one. */
  connectUrlTimeoutMs?: number;
  /** Who labels the containers (default: this process); tests name a host of their own. */
  process?: Partial<ContainerOwnerProcess>;
  /** Told before the default image is built from Dockerfile.skill. */
  onImageBuild?: (image: string, baseImage: string) => void;
  /** The shared launch path and prompts (made from the parts above when not given). */
  launches?: LaunchPreparer;
  prompter?: AuthPrompter;
  /** Where the skills' files are copied for their containers (made over `config.dataDir` when not given). */
  snapshots?: SkillSnapshots;
}

interface ActiveRun {
  controller: AbortController;
  done: Promise<unknown>;
}

const NEVER = new AbortController().signal;
/** Bounds the clean-up calls (stop, kill, remove), which must not hang a shutdown. */
const CLEANUP_TIMEOUT_MS = 30_000;
/** After exit, the attach stream drains what is left; a stuck stream is cut after this. */
const OUTPUT_DRAIN_MS = 5_000;
/**
 * Beyond the skill's timeout and stop grace, a run may still take this long to be over: start,
 * stop, kill and remove are each bounded by the clean-up timeout, and the output drains. It also
 * absorbs a little clock skew between hosts sharing an engine.
 */
const DEADLINE_MARGIN_MS = 4 * CLEANUP_TIMEOUT_MS + OUTPUT_DRAIN_MS;
const DEFAULT_STOP_GRACE_SECONDS = 5;

function delay(ms: number): { promise: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/**
 * Runs skills in hardened containers: syncs the providers a skill declares for its owner, mounts
 * a view of that owner's token folder with only those providers' files (read-only), mounts a
 * snapshot of the skill's files (read-only, see SkillSnapshots), streams output line by line, turns AUTH_REQUIRED lines
 * into `auth_required` events while the container runs, enforces the timeout, and removes every
 * container it creates.
 */
export class SkillRunner {
  readonly #options: SkillRunnerOptions;
  readonly #images: SkillImages;
  readonly #prompter: AuthPrompter;
  readonly #launches: LaunchPreparer;
  readonly #snapshots: SkillSnapshots;
  readonly #process: ContainerOwnerProcess;
  /** The one record of runs in progress, whoever started them (the CLI, the page, the API). */
  readonly #active = new Set<ActiveRun>();
  #stopping = false;

  constructor(options: SkillRunnerOptions) {
    this.#options = options;
    this.#images =
      options.images ??
      new SkillImages({
        containers: options.containers,
        sandbox: options.config.sandbox,
        skillsDir: options.config.skillsDir,
        logger: options.logger,
        ...(options.onImageBuild ? { onBuild: options.onImageBuild } : {}),
      });
    this.#prompter =
      options.prompter ??
      new AuthPrompter({
        tokenSync: options.tokenSync,
        sources: options.sources,
        events: options.events,
        logger: options.logger,
        ...(options.connectUrlTimeoutMs !== undefined
          ? { connectUrlTimeoutMs: options.connectUrlTimeoutMs }
          : {}),
      });
    this.#launches =
      options.launches ??
      new LaunchPreparer({ tokenSync: options.tokenSync, prompter: this.#prompter, logger: options.logger });
    this.#snapshots = options.snapshots ?? new SkillSnapshots({ dataDir: options.config.dataDir });
    this.#process = { ...currentProcess(), ...options.process };
  }

  get #stopGraceSeconds(): number {
    return this.#options.stopGraceSeconds ?? DEFAULT_STOP_GRACE_SECONDS;
  }

  /** How many runs are in progress. */
  get activeRuns(): number {
    return this.#active.size;
  }

  /** Builds the default skill image from Dockerfile.skill when it is missing. */
  ensureImage(signal: AbortSignal = NEVER): Promise<'present' | 'built'> {
    return this.#images.ensure(this.#options.config.sandbox.image, signal);
  }

  /**
   * Removes labelled containers whose owning process is gone (a crashed run or daemon) or whose run
   * is past its deadline; returns their ids.
   */
  async cleanupLeftovers(signal: AbortSignal = NEVER): Promise<string[]> {
    const { containers, logger } = this.#options;
    const found = await containers.listByLabels({ ...MANAGED_LABELS }, signal);
    const check = { self: this.#process, isAlive: isProcessAlive, now: Date.now() };
    const leftovers = found.filter((container) => isLeftover(container.labels, check));
    await Promise.all(leftovers.map((container) => containers.remove(container.id, signal)));
    if (leftovers.length > 0) logger.info({ count: leftovers.length }, 'removed leftover skill containers');
    return leftovers.map((container) => container.id);
  }

  /**
   * Starts a run in the background: its id at once, its end in `done` (output and the end also
   * arrive as events). Refused once `stopAll` was called.
   */
  start(request: Omit<RunRequest, 'runId' | 'signal'>): { runId: string; done: Promise<RunResult> } {
    if (this.#stopping) throw new SandboxShuttingDownError();
    const runId = randomUUID();
    return { runId, done: this.run({ ...request, runId }) };
  }

  /** Stops every run in progress (daemon shutdown), takes no new ones from `start`, and resolves once their containers are gone. */
  async stopAll(): Promise<void> {
    this.#stopping = true;
    const runs = [...this.#active];
    for (const run of runs) run.controller.abort(new Error('the sandbox is shutting down'));
    await Promise.allSettled(runs.map((run) => run.done));
  }

  /** Runs one skill for one owner to the end; throws only when no container could be started. */
  async run(request: RunRequest): Promise<RunResult> {
    const skill = this.#options.catalog.get(request.skill);
    const overLimits = checkSkillLimits(skill, this.#options.config.sandbox.limits);
    if (overLimits.length > 0) throw new InvalidManifestError(skill.manifestPath, overLimits);
    const owner = validateOwnerId(request.owner);
    const providers = this.#providersOf(skill);
    const runId = request.runId === undefined ? randomUUID() : validateRunId(request.runId);
    const controller = new AbortController();
    const callerSignal = request.signal ?? NEVER;
    const forward = () => controller.abort(callerSignal.reason);
    if (callerSignal.aborted) forward();
    else callerSignal.addEventListener('abort', forward, { once: true });
    const done = this.#execute(skill, owner, providers, request.args ?? [], controller.signal, runId);
    const active: ActiveRun = { controller, done };
    this.#active.add(active);
    try {
      return await done;
    } finally {
      callerSignal.removeEventListener('abort', forward);
      this.#active.delete(active);
      controller.abort();
    }
  }

  #providersOf(skill: Skill): ProviderConfig[] {
    return skill.providers.map((declared) => {
      try {
        return this.#options.tokenSync.provider(declared.name);
      } catch (error) {
        if (error instanceof UnknownProviderError) {
          throw new SkillProviderNotConfiguredError(skill.name, declared.name);
        }
        throw error;
      }
    });
  }

  async #execute(
    skill: Skill,
    owner: string,
    providers: readonly ProviderConfig[],
    args: readonly string[],
    signal: AbortSignal,
    runId: string,
  ): Promise<RunResult> {
    const { config, containers, events, logger } = this.#options;
    const aborted = (): RunResult => ({
      runId,
      skill: skill.name,
      owner,
      exitCode: EXIT_INTERRUPTED,
      reason: 'aborted',
      authRequired: [],
    });

    const image = skill.image ?? config.sandbox.image;
    let launch: PreparedLaunch;
    let tokenFolderGid: number;
    let skillFiles: string;
    try {
      await this.#images.ensure(image, signal);
      launch = await this.#launches.prepare({
        owner,
        providers: providers.map((provider) => provider.name),
        signal,
      });
      tokenFolderGid = (await stat(launch.mount.hostPath)).gid;
      skillFiles = await this.#snapshots.prepare(config.skillsDir, skill.name, signal);
    } catch (error) {
      if (signal.aborted) return aborted();
      throw error;
    }
    if (signal.aborted) return aborted();
    if (tokenFolderGid === ROOT_GID) {
      this.#reportRootGroup(owner, skill.name, this.#options.tokenSync.folder.ownerDir(owner));
    }

    const spec = buildContainerSpec({
      manifest: skill,
      image,
      owner,
      runId,
      args,
      tokensDir: launch.mount.hostPath,
      skillFilesDir: skillFiles,
      tokenFolderGid,
      hostNetwork: config.sandbox.network,
      cpus: config.sandbox.limits.cpus,
      process: this.#process,
      deadline: Date.now() + (skill.timeoutSeconds + this.#stopGraceSeconds) * 1000 + DEADLINE_MARGIN_MS,
    });
    // Create and start are not cut off half-way by an abort (Docker might finish them anyway and
    // leave a container we no longer know of); the abort is honoured right after.
    const containerId = await containers.create(spec, AbortSignal.timeout(CLEANUP_TIMEOUT_MS));
    const output = new AbortController();
    try {
      const chunks = await containers.attach(containerId, output.signal);
      if (signal.aborted) return aborted();
      await containers.start(containerId, AbortSignal.timeout(CLEANUP_TIMEOUT_MS));
      events.emit({ type: 'skill_started', owner, skill: skill.name, runId });
      logger.info({ owner, skill: skill.name, runId }, 'skill started');
      return await this.#supervise({ skill, owner, runId, containerId, chunks, output, signal });
    } finally {
      output.abort();
      await containers
        .remove(containerId, AbortSignal.timeout(CLEANUP_TIMEOUT_MS))
        .catch((error: unknown) =>
          logger.error({ runId, ...describeError(error) }, 'cannot remove the skill container'),
        );
    }
  }

  /** The skill runs without root's group, so a folder that only root's group may read hides its tokens. */
  #reportRootGroup(owner: string, skill: string, folder: string): void {
    this.#options.logger.warn(
      { owner, skill, folder, code: 'TOKEN_FOLDER_ROOT_GROUP' },
      "the owner's token folder belongs to root's group (gid 0), which a skill is never given, so the " +
        "skill may not read its tokens: give the folder the skills' group (sandbox.tokenGroup; " +
        'nanoclaw doctor checks it)',
    );
  }

  async #supervise(run: {
    skill: Skill;
    owner: string;
    runId: string;
    containerId: string;
    chunks: AsyncIterable<OutputChunk>;
    output: AbortController;
    signal: AbortSignal;
  }): Promise<RunResult> {
    const { containers, events, logger } = this.#options;
    const { skill, owner, runId, containerId, signal } = run;
    const grace = this.#stopGraceSeconds;

    let stopping: RunEndReason | null = null;
    const terminate = (reason: RunEndReason) => {
      if (stopping !== null) return;
      stopping = reason;
      logger.info({ runId, reason }, 'stopping the skill container');
      const cleanup = AbortSignal.timeout(CLEANUP_TIMEOUT_MS);
      containers
        .stop(containerId, grace, cleanup)
        .catch(() => containers.kill(containerId, cleanup))
        .catch((error: unknown) =>
          logger.error({ runId, ...describeError(error) }, 'cannot stop the container'),
        );
    };
    const timer = setTimeout(() => terminate('timeout'), skill.timeoutSeconds * 1000);
    const onAbort = () => terminate('aborted');
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });

    using redactor = await TokenRedactor.forRun(this.#options.tokenSync.folder, events, owner);
    const watch = this.#prompter.watch({
      owner,
      skill: skill.name,
      runId,
      declared: skill.providers,
      signal,
      onLine: (stream, line) =>
        events.emit({
          type: 'skill_output',
          owner,
          skill: skill.name,
          runId,
          stream,
          line: redactor.redact(line.text),
          ...(line.truncated ? { truncated: true } : {}),
        }),
    });
    const pumping = this.#pump(run.chunks, watch);

    let exitCode: number;
    let failed = false;
    try {
      exitCode = await containers.wait(containerId, NEVER);
    } catch (error) {
      logger.error({ runId, ...describeError(error) }, 'lost track of the skill container');
      failed = true;
      exitCode = EXIT_FAILED;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
    if (!failed) {
      const drain = delay(OUTPUT_DRAIN_MS);
      await Promise.race([pumping, drain.promise]);
      drain.cancel();
    }
    run.output.abort();
    await pumping;
    await watch.settled();

    const ended = stopping as RunEndReason | null;
    const reason: RunEndReason =
      ended ?? (failed ? 'failed' : watch.prompts.length > 0 ? 'auth_required' : 'exited');
    const code = ended === 'timeout' ? EXIT_TIMEOUT : ended === 'aborted' ? EXIT_INTERRUPTED : exitCode;
    events.emit({ type: 'skill_exited', owner, skill: skill.name, runId, exitCode: code, reason });
    logger.info({ owner, skill: skill.name, runId, exitCode: code, reason }, 'skill exited');
    return { runId, skill: skill.name, owner, exitCode: code, reason, authRequired: [...watch.prompts] };
  }

  /** Reads output to its end into the watch; a broken stream ends it without failing the run. */
  async #pump(chunks: AsyncIterable<OutputChunk>, watch: OutputWatch): Promise<void> {
    try {
      for await (const chunk of chunks) watch.write(chunk.data, chunk.stream);
    } catch (error) {
      if ((error as Error)?.name !== 'AbortError') {
        this.#options.logger.debug({ ...describeError(error) }, 'skill output stream ended early');
      }
    } finally {
      watch.end();
    }
  }
}
