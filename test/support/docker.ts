import Docker from 'dockerode';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../src/log/logger.js';
import { DockerContainerRuntime } from '../../src/sandbox/docker-container-runtime.js';
import { SkillImages } from '../../src/sandbox/skill-images.js';

/** The skill image the tests run (built from Dockerfile.skill when missing). */
export const TEST_SKILL_IMAGE = 'nanoclaw-skill:latest';
/** The local base image `scripts/build-base-image.sh` makes; no registry is reachable in CI. */
export const TEST_BASE_IMAGE = process.env.NANOCLAW_BASE_IMAGE || 'nanoclaw-base:bookworm';
export const REPO_SKILLS_DIR = fileURLToPath(new URL('../../skills', import.meta.url));

export type DockerForTests =
  | { available: true; containers: DockerContainerRuntime; docker: Docker }
  | { available: false; reason: string };

/**
 * Checks once per test file that a Docker engine answers and that the skill image exists (building
 * it through the product's own `SkillImages` if not). In CI (`CI` set) a missing engine throws, so
 * the suite fails instead of quietly skipping; locally the Docker tests are skipped with a notice.
 */
export async function dockerForTests(): Promise<DockerForTests> {
  const containers = new DockerContainerRuntime();
  try {
    await containers.ping(AbortSignal.timeout(5_000));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (process.env.CI) {
      throw new Error(
        `Docker is required for the sandbox tests in CI and does not answer: ${reason}\n` +
          'Start it with scripts/start-docker.sh (or run .ci/run).',
      );
    }
    // eslint-disable-next-line no-console
    console.warn(
      `\n!!! SKIPPING the Docker sandbox tests: ${reason}\n!!! Start an engine with scripts/start-docker.sh.\n`,
    );
    return { available: false, reason };
  }
  const images = new SkillImages({
    containers,
    sandbox: { image: TEST_SKILL_IMAGE, baseImage: TEST_BASE_IMAGE },
    skillsDir: REPO_SKILLS_DIR,
    logger: silentLogger(),
  });
  await images.ensure(TEST_SKILL_IMAGE, AbortSignal.timeout(300_000));
  return { available: true, containers, docker: new Docker() };
}

/** Ids of containers (running or not) carrying a label, looked up directly, not through the product. */
export async function containersWithLabel(docker: Docker, label: string, value: string): Promise<string[]> {
  const found = await docker.listContainers({
    all: true,
    filters: JSON.stringify({ label: [`${label}=${value}`] }),
  });
  return found.map((container) => container.Id);
}
