import { stat } from 'node:fs/promises';
import { loadConfig, type LoadConfigOptions } from '../config/load-config.js';
import type { NanoclawConfig } from '../config/types.js';
import type { ContainerRuntime } from '../sandbox/container-runtime.js';
import { DockerContainerRuntime } from '../sandbox/docker-container-runtime.js';
import type { SkillLimits } from '../config/skill-limits.js';
import { SkillCatalog } from '../sandbox/skill-catalog.js';
import { Oauth4webapiProtocol } from '../sources/builtin/oauth4webapi-protocol.js';
import { SdkNangoApi } from '../sources/nango/nango-api.js';
import type { DockerEngine } from './checks/docker-engine-check.js';
import type { LoadedSkills } from './checks/skill-manifests-check.js';
import type { DoctorDependencies } from './run-doctor.js';

export interface DoctorDependencyOptions extends LoadConfigOptions {
  tokenGroup(config: NanoclawConfig): number | null;
  containers?: ContainerRuntime;
}

/** Doctor's view of the sandbox's container runtime. */
export function engineFromRuntime(runtime: ContainerRuntime): DockerEngine {
  return {
    ping: (signal) => runtime.ping(signal),
    version: (signal) => runtime.version(signal),
    imageExists: (image, signal) => runtime.imageExists(image, signal),
  };
}

/** Valid skills and manifest problems, as the daemon's own skill catalog sees them. */
export async function loadSkillsFromCatalog(
  skillsDir: string,
  signal: AbortSignal,
  limits?: SkillLimits,
): Promise<LoadedSkills> {
  const folderExists = await stat(skillsDir).then(
    (stats) => stats.isDirectory(),
    () => false,
  );
  const catalog = await SkillCatalog.load(skillsDir, signal, limits ? { limits } : {});
  return {
    folderExists,
    skills: catalog.list().map((skill) => ({
      name: skill.name,
      image: skill.image,
      providers: skill.providers.map((provider) => provider.name),
    })),
    problems: catalog.problems().map((problem) => ({ file: problem.file, problems: problem.problems })),
  };
}

/** The real things doctor checks: the config file, Docker, Nango, issuers, the data folder. */
export function createDoctorDependencies(options: DoctorDependencyOptions): DoctorDependencies {
  return {
    loadConfig: () => loadConfig(options),
    docker: engineFromRuntime(options.containers ?? new DockerContainerRuntime()),
    nango: (settings, timeoutMs) => {
      const api = new SdkNangoApi({ ...settings, timeoutMs });
      return (endUserId, signal) => api.listConnections({ endUserId, signal });
    },
    discoverIssuer: async (issuer, signal) => {
      const metadata = await new Oauth4webapiProtocol().discover(issuer, signal);
      return { tokenEndpoint: metadata.tokenEndpoint };
    },
    loadSkills: loadSkillsFromCatalog,
    identity: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
    tokenGroup: options.tokenGroup,
  };
}
