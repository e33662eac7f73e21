import path from 'node:path';
import type { SandboxSettings } from '../../src/config/types.js';
import { DEFAULT_SKILL_LIMITS } from '../../src/config/skill-limits.js';
import { EventBus } from '../../src/events/event-bus.js';
import { silentLogger, type Logger } from '../../src/log/logger.js';
import type { ContainerOwnerProcess } from '../../src/sandbox/container-labels.js';
import type { ContainerRuntime } from '../../src/sandbox/container-runtime.js';
import { SkillCatalog } from '../../src/sandbox/skill-catalog.js';
import { SkillRunner } from '../../src/sandbox/skill-runner.js';
import { TokenSourceRegistry } from '../../src/sources/token-source.js';
import { TokenFolder } from '../../src/tokens/token-folder.js';
import { TokenSync } from '../../src/tokens/token-sync.js';

export interface BareSkillRunnerOptions {
  /** Skills are read from `<root>/skills`, tokens kept in `<root>/tokens`, snapshots in `<root>/data`. */
  root: string;
  containers: ContainerRuntime;
  logger?: Logger;
  stopGraceSeconds?: number;
  process?: Partial<ContainerOwnerProcess>;
  /** Sandbox settings over the defaults (e.g. the operator's limits). */
  sandbox?: Partial<SandboxSettings>;
}

/** A skill runner with no token source and no configured provider: for skills that declare none. */
export async function bareSkillRunner(options: BareSkillRunnerOptions): Promise<SkillRunner> {
  const skillsDir = path.join(options.root, 'skills');
  const events = new EventBus();
  const sources = new TokenSourceRegistry({});
  const logger = options.logger ?? silentLogger();
  const tokenSync = new TokenSync({
    config: { providers: [], refresh: { marginMs: 300_000, maxAgeMs: 300_000, concurrency: 1 } },
    folder: new TokenFolder(path.join(options.root, 'tokens')),
    sources,
    events,
    logger,
  });
  return new SkillRunner({
    config: {
      dataDir: path.join(options.root, 'data'),
      skillsDir,
      sandbox: {
        image: 'nanoclaw-skill:latest',
        baseImage: 'nanoclaw-base:bookworm',
        network: 'none',
        tokenGroup: null,
        limits: DEFAULT_SKILL_LIMITS,
        ...options.sandbox,
      },
    },
    catalog: await SkillCatalog.load(skillsDir),
    containers: options.containers,
    tokenSync,
    sources,
    events,
    logger,
    ...(options.stopGraceSeconds !== undefined ? { stopGraceSeconds: options.stopGraceSeconds } : {}),
    ...(options.process ? { process: options.process } : {}),
  });
}
