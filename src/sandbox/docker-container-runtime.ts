import { Readable } from 'node:stream';
import Docker from 'dockerode';
import type {
  ContainerRuntime,
  ContainerSpec,
  ContainerSummary,
  ImageBuildRequest,
  OutputChunk,
} from './container-runtime.js';
import { DockerStreamDemuxer } from './docker-stream-demuxer.js';
import { ContainerRuntimeError, type ContainerErrorCode } from './sandbox-errors.js';

interface DockerApiError {
  statusCode?: number;
  code?: string;
  json?: { message?: unknown } | null;
  message?: string;
  name?: string;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

function isAbort(error: unknown): boolean {
  return (error as DockerApiError)?.name === 'AbortError';
}

function statusOf(error: unknown): number | null {
  const status = (error as DockerApiError)?.statusCode;
  return typeof status === 'number' ? status : null;
}

/** Docker's own sentence for the failure, without the request that caused it. */
function dockerMessage(error: unknown): string {
  const { json, message } = (error ?? {}) as DockerApiError;
  if (json && typeof json.message === 'string') return json.message;
  return typeof message === 'string' ? message : 'unknown error';
}

function wrap(error: unknown, what: string, code: ContainerErrorCode = 'CONTAINER_FAILED'): unknown {
  if (isAbort(error) || error instanceof ContainerRuntimeError) return error;
  const errno = (error as DockerApiError)?.code;
  if (typeof errno === 'string' && UNREACHABLE.has(errno)) {
    return new ContainerRuntimeError(
      'DOCKER_UNAVAILABLE',
      `cannot reach the Docker engine (${errno}); is it running, and is DOCKER_HOST right?`,
      { cause: error },
    );
  }
  const statusCode = statusOf(error);
  return new ContainerRuntimeError(code, `${what}: ${dockerMessage(error)}`, { cause: error, statusCode });
}

/** Ignores the answers that mean "already done" (304 already stopped, 404 gone, 409 not running). */
async function tolerate(statuses: readonly number[], action: () => Promise<unknown>): Promise<void> {
  try {
    await action();
  } catch (error) {
    const status = statusOf(error);
    if (status !== null && statuses.includes(status)) return;
    throw error;
  }
}

async function* demultiplex(stream: NodeJS.ReadableStream, signal: AbortSignal): AsyncGenerator<OutputChunk> {
  const readable = stream as Readable;
  const demuxer = new DockerStreamDemuxer();
  const destroy = () => readable.destroy();
  signal.addEventListener('abort', destroy, { once: true });
  try {
    for await (const chunk of readable) {
      for (const piece of demuxer.push(chunk as Buffer)) yield piece;
    }
  } finally {
    signal.removeEventListener('abort', destroy);
    readable.destroy();
  }
}

/** The Engine API's create body for a spec: the one place our spec meets Docker's field names. */
export function toDockerCreateOptions(spec: ContainerSpec): Docker.ContainerCreateOptions {
  return {
    Image: spec.image,
    Cmd: spec.command,
    Env: Object.entries(spec.env).map(([name, value]) => `${name}=${value}`),
    User: spec.user,
    WorkingDir: spec.workingDir,
    Labels: spec.labels,
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    NetworkDisabled: spec.networkMode === 'none',
    HostConfig: {
      Mounts: spec.mounts.map((mount) => ({
        Type: 'bind' as const,
        Source: mount.source,
        Target: mount.target,
        ReadOnly: mount.readOnly,
      })),
      GroupAdd: spec.groupAdd,
      Tmpfs: spec.tmpfs,
      ReadonlyRootfs: spec.readonlyRootfs,
      CapDrop: spec.capDrop,
      SecurityOpt: spec.securityOpt,
      Privileged: false,
      Memory: spec.memoryBytes,
      // Equal to Memory: no swap on top of the limit.
      MemorySwap: spec.memoryBytes,
      PidsLimit: spec.pidsLimit,
      ...(spec.nanoCpus > 0 ? { NanoCpus: spec.nanoCpus } : {}),
      NetworkMode: spec.networkMode,
      Init: spec.init,
      AutoRemove: false,
    },
  };
}

/**
 * `ContainerRuntime` over the Docker Engine API (dockerode). The only module that knows dockerode.
 * Connects like the docker CLI: the local socket, or DOCKER_HOST (with DOCKER_TLS_VERIFY and
 * DOCKER_CERT_PATH) when set.
 */
export class DockerContainerRuntime implements ContainerRuntime {
  readonly #docker: Docker;

  constructor(docker: Docker = new Docker()) {
    this.#docker = docker;
  }

  async version(signal: AbortSignal): Promise<{ version: string; apiVersion: string }> {
    try {
      // The typings omit version's options; dockerode passes abortSignal through, as for ping.
      const version = this.#docker.version as unknown as (options: {
        abortSignal: AbortSignal;
      }) => Promise<{ Version?: unknown; ApiVersion?: unknown }>;
      const info = await version.call(this.#docker, { abortSignal: signal });
      return { version: String(info.Version ?? 'unknown'), apiVersion: String(info.ApiVersion ?? 'unknown') };
    } catch (error) {
      throw wrap(error, 'the Docker engine did not answer', 'DOCKER_UNAVAILABLE');
    }
  }

  async ping(signal: AbortSignal): Promise<void> {
    try {
      // The typings omit ping's options; dockerode passes abortSignal through.
      const ping = this.#docker.ping as unknown as (options: {
        abortSignal: AbortSignal;
      }) => Promise<unknown>;
      await ping.call(this.#docker, { abortSignal: signal });
    } catch (error) {
      throw wrap(error, 'the Docker engine did not answer', 'DOCKER_UNAVAILABLE');
    }
  }

  async create(spec: ContainerSpec, signal: AbortSignal): Promise<string> {
    try {
      const container = await this.#docker.createContainer({
        ...toDockerCreateOptions(spec),
        abortSignal: signal,
      } as Docker.ContainerCreateOptions);
      return container.id;
    } catch (error) {
      if (statusOf(error) === 404) {
        throw new ContainerRuntimeError(
          'IMAGE_NOT_FOUND',
          `image ${spec.image} does not exist on this host`,
          {
            cause: error,
            statusCode: 404,
          },
        );
      }
      throw wrap(error, 'cannot create the container');
    }
  }

  async attach(id: string, signal: AbortSignal): Promise<AsyncIterable<OutputChunk>> {
    try {
      const stream = await this.#docker
        .getContainer(id)
        .attach({ stream: true, stdout: true, stderr: true, logs: false, abortSignal: signal });
      return demultiplex(stream, signal);
    } catch (error) {
      throw wrap(error, 'cannot attach to the container');
    }
  }

  async start(id: string, signal: AbortSignal): Promise<void> {
    try {
      await this.#docker.getContainer(id).start({ abortSignal: signal });
    } catch (error) {
      throw wrap(error, 'cannot start the container');
    }
  }

  async wait(id: string, signal: AbortSignal): Promise<number> {
    try {
      const result = (await this.#docker.getContainer(id).wait({ abortSignal: signal })) as {
        StatusCode?: unknown;
      };
      return typeof result.StatusCode === 'number' ? result.StatusCode : -1;
    } catch (error) {
      throw wrap(error, 'cannot wait for the container');
    }
  }

  async stop(id: string, graceSeconds: number, signal: AbortSignal): Promise<void> {
    try {
      await tolerate([304, 404], () =>
        this.#docker.getContainer(id).stop({ t: Math.max(0, Math.ceil(graceSeconds)), abortSignal: signal }),
      );
    } catch (error) {
      throw wrap(error, 'cannot stop the container');
    }
  }

  async kill(id: string, signal: AbortSignal): Promise<void> {
    try {
      await tolerate([404, 409], () => this.#docker.getContainer(id).kill({ abortSignal: signal }));
    } catch (error) {
      throw wrap(error, 'cannot kill the container');
    }
  }

  async remove(id: string, signal: AbortSignal): Promise<void> {
    try {
      // 409: a removal is already in progress.
      await tolerate([404, 409], () =>
        this.#docker.getContainer(id).remove({ force: true, v: true, abortSignal: signal }),
      );
    } catch (error) {
      throw wrap(error, 'cannot remove the container');
    }
  }

  async listByLabels(labels: Record<string, string>, signal: AbortSignal): Promise<ContainerSummary[]> {
    try {
      const containers = await this.#docker.listContainers({
        all: true,
        filters: JSON.stringify({ label: Object.entries(labels).map(([key, value]) => `${key}=${value}`) }),
        abortSignal: signal,
      });
      return containers.map((container) => ({
        id: container.Id,
        labels: container.Labels ?? {},
        state: container.State,
      }));
    } catch (error) {
      throw wrap(error, 'cannot list containers');
    }
  }

  async imageExists(image: string, signal: AbortSignal): Promise<boolean> {
    // dockerode cannot abort an image inspect; it is one quick local call.
    signal.throwIfAborted();
    try {
      await this.#docker.getImage(image).inspect();
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw wrap(error, `cannot inspect image ${image}`);
    }
  }

  async imageVolumes(image: string, signal: AbortSignal): Promise<string[] | null> {
    signal.throwIfAborted();
    try {
      const info = (await this.#docker.getImage(image).inspect()) as {
        Config?: { Volumes?: Record<string, unknown> | null } | null;
      };
      return Object.keys(info.Config?.Volumes ?? {}).sort();
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw wrap(error, `cannot inspect image ${image}`);
    }
  }

  async buildImage(request: ImageBuildRequest, signal: AbortSignal): Promise<void> {
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.#docker.buildImage(Readable.from([request.context]), {
        t: request.tag,
        dockerfile: request.dockerfile,
        buildargs: request.buildArgs,
        labels: request.labels ?? {},
        rm: true,
        forcerm: true,
        abortSignal: signal,
      } as Docker.ImageBuildOptions);
    } catch (error) {
      throw wrap(error, `cannot build image ${request.tag}`, 'IMAGE_BUILD_FAILED');
    }
    // The build answers 200 at once and reports failures inside the progress stream.
    const progress = await new Promise<Array<{ error?: unknown; errorDetail?: { message?: unknown } }>>(
      (resolve, reject) => {
        this.#docker.modem.followProgress(stream, (error: Error | null, output: unknown[]) =>
          error ? reject(error) : resolve(output as Array<{ error?: unknown }>),
        );
      },
    ).catch((error: unknown) => {
      throw wrap(error, `cannot build image ${request.tag}`, 'IMAGE_BUILD_FAILED');
    });
    const failure = progress.find((entry) => entry.error !== undefined);
    if (failure) {
      const detail = failure.errorDetail?.message ?? failure.error;
      throw new ContainerRuntimeError(
        'IMAGE_BUILD_FAILED',
        `cannot build image ${request.tag}: ${typeof detail === 'string' ? detail : 'the build failed'}`,
      );
    }
  }
}
