/** The operator's maximums for what a skill's manifest may ask (config `sandbox:`). */
export interface SkillLimits {
  /** `sandbox.maxMemory`: the most memory a manifest may ask for. */
  memoryBytes: number;
  /** `sandbox.maxPids`: the most processes a manifest may ask for. */
  pids: number;
  /** `sandbox.maxTimeout`: the longest timeout a manifest may ask for, in seconds. */
  timeoutSeconds: number;
  /** `sandbox.cpus`: CPUs every skill container may use; null for no cap (the default). */
  cpus: number | null;
}

/**
 * Generous enough for every manifest default (256m, 128 pids, 300 s) and any sensible skill, low
 * enough that one manifest cannot take the host's memory or process table.
 */
export const DEFAULT_SKILL_LIMITS: SkillLimits = {
  memoryBytes: 2 * 1024 ** 3,
  pids: 1024,
  timeoutSeconds: 24 * 60 * 60,
  cpus: null,
};
