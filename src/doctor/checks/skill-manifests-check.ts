import { describeError } from '../../errors.js';
import { fail, ok, warn, type CheckResult } from '../check-result.js';
import type { SkillImageUse } from './images-check.js';

/** What doctor needs to know of one valid skill. */
export interface SkillSummary {
  name: string;
  /** null: the default skill image. */
  image: string | null;
  providers: readonly string[];
}

/** A skill folder whose manifest is invalid; `problems` are `path: message` lines. */
export interface ManifestProblem {
  file: string;
  problems: readonly string[];
}

export interface LoadedSkills {
  /** false when the skills folder does not exist. */
  folderExists: boolean;
  skills: SkillSummary[];
  problems: ManifestProblem[];
}

export interface SkillManifestsInput {
  skillsDir: string;
  configuredProviders: readonly string[];
  loadSkills: (skillsDir: string, signal: AbortSignal) => Promise<LoadedSkills>;
}

export interface SkillManifestsOutcome {
  result: CheckResult;
  /** Images that valid skills name themselves, for the image check. */
  skillImages: SkillImageUse[];
}

const NAME = 'skill-manifests';

/** Every skills/<name>/skill.yaml parses, and every provider a skill declares is configured. */
export async function checkSkillManifests(
  input: SkillManifestsInput,
  signal: AbortSignal,
): Promise<SkillManifestsOutcome> {
  let loaded: LoadedSkills;
  try {
    loaded = await input.loadSkills(input.skillsDir, signal);
  } catch (error) {
    const { code, message } = describeError(error);
    return {
      skillImages: [],
      result: fail(
        NAME,
        `cannot read ${input.skillsDir}: ${message} (${code})`,
        `check that ${input.skillsDir} is a readable folder`,
      ),
    };
  }
  const skillImages = loaded.skills.flatMap((skill) =>
    skill.image ? [{ skill: skill.name, image: skill.image }] : [],
  );
  if (!loaded.folderExists) {
    return {
      skillImages,
      result: warn(
        NAME,
        `no skills folder at ${input.skillsDir}`,
        'create it with one folder per skill (skills/<name>/skill.yaml), or set NANOCLAW_SKILLS_DIR',
      ),
    };
  }

  const configured = new Set(input.configuredProviders);
  const problems = loaded.problems.flatMap((problem) =>
    problem.problems.map((line) => `${problem.file}: ${line}`),
  );
  for (const skill of loaded.skills) {
    for (const provider of skill.providers) {
      if (!configured.has(provider)) {
        problems.push(
          `skill ${skill.name}: provider "${provider}" is not configured in nanoclaw.config.yaml`,
        );
      }
    }
  }
  if (problems.length > 0) {
    return {
      skillImages,
      result: fail(
        NAME,
        `${problems.length} ${problems.length === 1 ? 'problem' : 'problems'}: ${problems.join('; ')}`,
        'fix each skill.yaml at the `path` given (or configure the provider), then run nanoclaw doctor again',
      ),
    };
  }
  const count = loaded.skills.length;
  return {
    skillImages,
    result:
      count === 0
        ? warn(
            NAME,
            `no skills in ${input.skillsDir}`,
            'add a skill: skills/<name>/skill.yaml beside its code',
          )
        : ok(
            NAME,
            `${count} valid ${count === 1 ? 'skill' : 'skills'}: ${loaded.skills.map((skill) => skill.name).join(', ')}`,
          ),
  };
}
