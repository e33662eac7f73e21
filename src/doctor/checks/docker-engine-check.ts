import { describeError } from '../../errors.js';
import { fail, ok, type CheckResult } from '../check-result.js';

export interface EngineVersion {
  version: string;
  apiVersion: string;
}

/** What doctor asks of the Docker engine; the sandbox's container runtime provides it. */
export interface DockerEngine {
  ping(signal: AbortSignal): Promise<void>;
  /** null when the runtime cannot tell. */
  version(signal: AbortSignal): Promise<EngineVersion | null>;
  imageExists(image: string, signal: AbortSignal): Promise<boolean>;
}

const ENGINE_FIX =
  'start Docker (systemctl start docker) or set DOCKER_HOST; in compose, mount /var/run/docker.sock and set DOCKER_GID to its group (stat -c %g /var/run/docker.sock)';

/** Is the engine there, and which one is it. */
export async function checkDockerEngine(engine: DockerEngine, signal: AbortSignal): Promise<CheckResult> {
  try {
    await engine.ping(signal);
  } catch (error) {
    const { message } = describeError(error);
    const denied = /EACCES|permission denied/i.test(message);
    return fail(
      'docker-engine',
      /docker/i.test(message) ? message : `the Docker engine does not answer: ${message}`,
      denied
        ? "give this user access to the Docker socket: add it to the socket's group (compose: DOCKER_GID), then log in again"
        : ENGINE_FIX,
    );
  }
  const version = await engine.version(signal).catch(() => null);
  return ok(
    'docker-engine',
    version ? `Docker ${version.version} (API ${version.apiVersion}) answers` : 'the Docker engine answers',
  );
}
