import type { ContainerRuntime } from '../sandbox/container-runtime.js';
import { DockerContainerRuntime } from '../sandbox/docker-container-runtime.js';
import { SkillCatalog } from '../sandbox/skill-catalog.js';
import { SkillRunner } from '../sandbox/skill-runner.js';
import type { Runtime } from '../app/runtime.js';

export interface SkillsSetupOptions {
  containers?: ContainerRuntime | undefined;
  stopGraceSeconds?: number | undefined;
}

/** The skills folder's catalog and a runner over Docker, as every command that runs skills needs them. */
export async function setUpSkills(
  runtime: Runtime,
  io: { stderr: NodeJS.WritableStream; signal: AbortSignal },
  options: SkillsSetupOptions = {},
): Promise<{ catalog: SkillCatalog; runner: SkillRunner }> {
  const { config } = runtime;
  const catalog = await SkillCatalog.load(config.skillsDir, io.signal, { limits: config.sandbox.limits });
  const runner = new SkillRunner({
    config,
    catalog,
    containers: options.containers ?? new DockerContainerRuntime(),
    tokenSync: runtime.tokenSync,
    sources: runtime.tokenSources,
    events: runtime.events,
    logger: runtime.logger,
    onImageBuild: (image, baseImage) =>
      io.stderr.write(
        `nanoclaw: building the skill image ${image} from Dockerfile.skill (BASE_IMAGE=${baseImage}); this happens once\n`,
      ),
    ...(options.stopGraceSeconds !== undefined ? { stopGraceSeconds: options.stopGraceSeconds } : {}),
  });
  return { catalog, runner };
}
