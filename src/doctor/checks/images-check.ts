import type { SandboxSettings } from '../../config/types.js';
import { describeError } from '../../errors.js';
import { fail, ok, summarizeList, warn, type CheckResult } from '../check-result.js';
import type { DockerEngine } from './docker-engine-check.js';

/** A skill whose manifest names its own image instead of the default one. */
export interface SkillImageUse {
  skill: string;
  image: string;
}

export interface ImagesCheckInput {
  engine: DockerEngine;
  sandbox: Pick<SandboxSettings, 'image' | 'baseImage'>;
  skillImages: readonly SkillImageUse[];
}

const NOT_CHECKED = 'not checked: the Docker engine does not answer';

/** Results for when the engine is down: said once, by the engine check. */
export function imagesNotChecked(): CheckResult[] {
  const fix = 'fix docker-engine first';
  return [warn('base-image', NOT_CHECKED, fix), warn('skill-image', NOT_CHECKED, fix)];
}

/**
 * The base image and the default skill image (the daemon builds the latter from Dockerfile.skill
 * when it is missing, which needs the former), plus any image a skill names itself.
 */
export async function checkImages(input: ImagesCheckInput, signal: AbortSignal): Promise<CheckResult[]> {
  const { engine, sandbox } = input;
  const exists = async (image: string): Promise<boolean | Error> =>
    engine.imageExists(image, signal).catch((error: unknown) => new Error(describeError(error).message));
  const [base, skill] = await Promise.all([exists(sandbox.baseImage), exists(sandbox.image)]);
  const buildCommand = `docker build --build-arg BASE_IMAGE=${sandbox.baseImage} -f Dockerfile.skill -t ${sandbox.image} .`;

  const results: CheckResult[] = [];
  if (base instanceof Error) {
    results.push(
      fail('base-image', `cannot inspect ${sandbox.baseImage}: ${base.message}`, 'check the Docker engine'),
    );
  } else if (base) {
    results.push(ok('base-image', `${sandbox.baseImage} is present`));
  } else if (skill === true) {
    results.push(
      warn(
        'base-image',
        `${sandbox.baseImage} is missing; it is needed only to rebuild ${sandbox.image}`,
        `docker pull ${sandbox.baseImage} (offline: npm run build:base-image and set NANOCLAW_BASE_IMAGE)`,
      ),
    );
  } else {
    results.push(
      fail(
        'base-image',
        `${sandbox.baseImage} is missing, so the skill image ${sandbox.image} cannot be built`,
        `docker pull ${sandbox.baseImage} (offline: npm run build:base-image and set NANOCLAW_BASE_IMAGE)`,
      ),
    );
  }

  if (skill instanceof Error) {
    results.push(
      fail('skill-image', `cannot inspect ${sandbox.image}: ${skill.message}`, 'check the Docker engine'),
    );
  } else if (skill) {
    results.push(ok('skill-image', `${sandbox.image} is present`));
  } else {
    results.push(
      warn(
        'skill-image',
        `${sandbox.image} is not built yet; the first skill run builds it (slow)`,
        buildCommand,
      ),
    );
  }

  const own = [
    ...new Map(
      input.skillImages.filter((use) => use.image !== sandbox.image).map((use) => [use.image, use]),
    ).values(),
  ];
  if (own.length > 0) {
    const missing: SkillImageUse[] = [];
    for (const use of own) {
      if ((await exists(use.image)) !== true) missing.push(use);
    }
    results.push(
      missing.length === 0
        ? ok(
            'skill-images',
            `${own.length} skill-specific ${own.length === 1 ? 'image is' : 'images are'} present`,
          )
        : fail(
            'skill-images',
            `missing: ${summarizeList(missing.map((use) => `${use.image} (skill ${use.skill})`))}`,
            `docker pull (or build) ${summarizeList(missing.map((use) => use.image))}`,
          ),
    );
  }
  return results;
}
