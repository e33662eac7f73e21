import { fileURLToPath } from 'node:url';
import type { SandboxSettings } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { createSkillBuildContext } from './build-context.js';
import type { ContainerRuntime } from './container-runtime.js';
import { ContainerRuntimeError, ImageDeclaresVolumeError } from './sandbox-errors.js';

/** Dockerfile.skill ships at the package root, two folders up from here in src/ and in dist/. */
export const DEFAULT_DOCKERFILE = fileURLToPath(new URL('../../Dockerfile.skill', import.meta.url));

export interface SkillImagesOptions {
  containers: ContainerRuntime;
  sandbox: Pick<SandboxSettings, 'image' | 'baseImage'>;
  skillsDir: string;
  logger: Logger;
  dockerfile?: string;
  /** Told before a build starts: it takes a while, and people like to know why. */
  onBuild?: (image: string, baseImage: string) => void;
}

/**
 * Makes sure a skill's image is on the host. The default image is built from Dockerfile.skill when
 * missing (no registry is needed: BASE_IMAGE can be a local image); any other image must exist.
 */
export class SkillImages {
  readonly #options: SkillImagesOptions;
  readonly #known = new Set<string>();
  readonly #building = new Map<string, Promise<void>>();

  constructor(options: SkillImagesOptions) {
    this.#options = options;
  }

  /**
   * Resolves once `image` exists; builds the default image if needed. An image that declares a VOLUME
   * is refused (`ImageDeclaresVolumeError`): Docker would back each with writable, executable host
   * disk outside /tmp's cap, past the read-only root.
   */
  async ensure(image: string, signal: AbortSignal): Promise<'present' | 'built'> {
    if (this.#known.has(image)) return 'present';
    const { containers } = this.#options;
    const volumes = await containers.imageVolumes(image, signal);
    if (volumes !== null) {
      if (volumes.length > 0) throw new ImageDeclaresVolumeError(image, volumes);
      this.#known.add(image);
      return 'present';
    }
    if (image !== this.#options.sandbox.image) {
      throw new ContainerRuntimeError(
        'IMAGE_NOT_FOUND',
        `image ${image} does not exist on this host (pull or build it first)`,
      );
    }
    let building = this.#building.get(image);
    if (!building) {
      building = this.#build(image, signal).finally(() => this.#building.delete(image));
      this.#building.set(image, building);
    }
    await building;
    // A base image's VOLUME is inherited by the image built on it.
    const built = (await containers.imageVolumes(image, signal)) ?? [];
    if (built.length > 0) throw new ImageDeclaresVolumeError(image, built);
    this.#known.add(image);
    return 'built';
  }

  /** Builds the default image now, whether or not it exists. */
  async build(signal: AbortSignal): Promise<void> {
    await this.#build(this.#options.sandbox.image, signal);
    this.#known.add(this.#options.sandbox.image);
  }

  async #build(tag: string, signal: AbortSignal): Promise<void> {
    const { containers, sandbox, skillsDir, logger } = this.#options;
    const started = Date.now();
    logger.info({ image: tag, baseImage: sandbox.baseImage }, 'building the skill image');
    this.#options.onBuild?.(tag, sandbox.baseImage);
    const context = await createSkillBuildContext({
      dockerfile: this.#options.dockerfile ?? DEFAULT_DOCKERFILE,
      skillsDir,
    });
    await containers.buildImage(
      {
        context,
        dockerfile: 'Dockerfile.skill',
        tag,
        buildArgs: { BASE_IMAGE: sandbox.baseImage },
        labels: { 'org.opencontainers.image.title': 'nanoclaw-skill' },
      },
      signal,
    );
    logger.info({ image: tag, ms: Date.now() - started }, 'skill image built');
  }
}
