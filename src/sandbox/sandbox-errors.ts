import { NanoclawError } from '../errors.js';

/** A skill.yaml does not describe a runnable skill; each problem is a `path: message` line. */
export class InvalidManifestError extends NanoclawError {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
    options: { cause?: unknown } = {},
  ) {
    super('INVALID_MANIFEST', `invalid skill manifest ${file}:\n  ${problems.join('\n  ')}`, options);
  }
}

/** No skill of that name is in the skills folder (or its manifest is invalid). */
export class UnknownSkillError extends NanoclawError {
  constructor(
    readonly skill: string,
    detail = '',
  ) {
    super('UNKNOWN_SKILL', `skill "${skill}" not found${detail}`);
  }
}

/** A skill declares a provider that nanoclaw.config.yaml does not configure. */
export class SkillProviderNotConfiguredError extends NanoclawError {
  constructor(
    readonly skill: string,
    readonly provider: string,
  ) {
    super(
      'UNKNOWN_PROVIDER',
      `skill "${skill}" declares provider "${provider}", which is not configured in nanoclaw.config.yaml`,
    );
  }
}

export type ContainerErrorCode =
  'DOCKER_UNAVAILABLE' | 'IMAGE_NOT_FOUND' | 'IMAGE_BUILD_FAILED' | 'CONTAINER_FAILED';

/** The Docker engine refused or failed an operation on a container or image. */
export class ContainerRuntimeError extends NanoclawError {
  /** The Docker API status, when there was an answer (404: no such container or image). */
  readonly statusCode: number | null;

  constructor(
    code: ContainerErrorCode,
    message: string,
    options: { cause?: unknown; statusCode?: number | null } = {},
  ) {
    super(code, message, options);
    this.statusCode = options.statusCode ?? null;
  }
}

/** A run was asked for while the daemon shuts down. */
export class SandboxShuttingDownError extends NanoclawError {
  constructor() {
    super('SHUTTING_DOWN', 'the daemon is shutting down: no new skill runs');
  }
}

/** A skill's files cannot be taken into its container (a symlinked folder, too many bytes). */
export class SkillFilesError extends NanoclawError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SKILL_FILES_INVALID', message, options);
  }
}

/** An image declares a VOLUME: Docker would give the skill writable host disk outside /tmp. */
export class ImageDeclaresVolumeError extends NanoclawError {
  constructor(
    readonly image: string,
    readonly volumes: readonly string[],
  ) {
    super(
      'IMAGE_DECLARES_VOLUME',
      `image ${image} declares VOLUME ${volumes.join(', ')}: a skill would get writable disk there; ` +
        'build the skill image without VOLUME',
    );
  }
}
