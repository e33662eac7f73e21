import type { OutputChunk } from './docker-stream-demuxer.js';

export type { OutputChunk, OutputStream } from './docker-stream-demuxer.js';

/** A host folder bound into a container. */
export interface ContainerMount {
  source: string;
  target: string;
  readOnly: boolean;
}

/** Everything a container is created with; built by `buildContainerSpec`, never by hand. */
export interface ContainerSpec {
  image: string;
  command: string[];
  env: Record<string, string>;
  /** `uid:gid`. */
  user: string;
  /** Extra groups (gids) for the user, e.g. the group that can read the token folder. */
  groupAdd: string[];
  workingDir: string;
  labels: Record<string, string>;
  mounts: ContainerMount[];
  /** Mount point -> tmpfs options. */
  tmpfs: Record<string, string>;
  readonlyRootfs: boolean;
  capDrop: string[];
  securityOpt: string[];
  memoryBytes: number;
  pidsLimit: number;
  /** CPU cap in billionths of a CPU; 0 for none. */
  nanoCpus: number;
  networkMode: 'none' | 'bridge';
  /** Run a tiny init as PID 1 so SIGTERM reaches the skill and zombies are reaped. */
  init: boolean;
}

export interface ContainerSummary {
  id: string;
  labels: Record<string, string>;
  /** Docker's state: created, running, exited, ... */
  state: string;
}

export interface ImageBuildRequest {
  /** A tar archive of the build context. */
  context: Buffer;
  /** The Dockerfile's path inside the context. */
  dockerfile: string;
  tag: string;
  buildArgs: Record<string, string>;
  labels?: Record<string, string>;
}

/**
 * The container operations the sandbox needs. One implementation talks to Docker
 * (`DockerContainerRuntime`); unit tests pass a fake. Every call takes an AbortSignal; stop, kill
 * and remove succeed when the container is already stopped or gone.
 */
export interface ContainerRuntime {
  /** Throws `ContainerRuntimeError` DOCKER_UNAVAILABLE when the engine does not answer. */
  ping(signal: AbortSignal): Promise<void>;
  /** The engine's version and API version. */
  version(signal: AbortSignal): Promise<{ version: string; apiVersion: string }>;
  /** Creates the container (not started); returns its id. */
  create(spec: ContainerSpec, signal: AbortSignal): Promise<string>;
  /**
   * Streams stdout and stderr, demultiplexed, until the container exits. Attach before `start`
   * so no output is missed.
   */
  attach(id: string, signal: AbortSignal): Promise<AsyncIterable<OutputChunk>>;
  start(id: string, signal: AbortSignal): Promise<void>;
  /** Resolves with the exit code once the container has stopped. */
  wait(id: string, signal: AbortSignal): Promise<number>;
  /** SIGTERM, then SIGKILL after `graceSeconds`. */
  stop(id: string, graceSeconds: number, signal: AbortSignal): Promise<void>;
  kill(id: string, signal: AbortSignal): Promise<void>;
  /** Removes the container, killing it if it still runs. */
  remove(id: string, signal: AbortSignal): Promise<void>;
  /** Containers (running or not) that carry all of these labels. */
  listByLabels(labels: Record<string, string>, signal: AbortSignal): Promise<ContainerSummary[]>;
  imageExists(image: string, signal: AbortSignal): Promise<boolean>;
  /** The folders the image declares as VOLUME; null when the image is not on this host. */
  imageVolumes(image: string, signal: AbortSignal): Promise<string[] | null>;
  buildImage(request: ImageBuildRequest, signal: AbortSignal): Promise<void>;
}
