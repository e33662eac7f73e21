import type {
  ContainerRuntime,
  ContainerSpec,
  ContainerSummary,
  ImageBuildRequest,
  OutputChunk,
  OutputStream,
} from '../../src/sandbox/container-runtime.js';
import { ContainerRuntimeError } from '../../src/sandbox/sandbox-errors.js';

/** What a scripted skill can do inside a fake container. */
export interface FakeContainerControls {
  readonly spec: ContainerSpec;
  write(stream: OutputStream, data: string | Buffer): void;
  stdout(line: string): void;
  stderr(line: string): void;
  exit(code: number): void;
  /** The container ignores SIGTERM: `stop` leaves it running until the grace ends (then SIGKILL). */
  ignoreTerm(): void;
  readonly exited: Promise<number>;
}

export type FakeBehaviour = (container: FakeContainerControls) => void | Promise<void>;

type Method = 'create' | 'attach' | 'start' | 'wait' | 'stop' | 'kill' | 'remove' | 'listByLabels';

/** A container in the fake engine. */
export class FakeContainer implements FakeContainerControls {
  state: 'created' | 'running' | 'exited' | 'removed' = 'created';
  exitCode: number | null = null;
  termIgnored = false;
  readonly exited: Promise<number>;
  #resolveExit!: (code: number) => void;
  readonly #chunks: OutputChunk[] = [];
  #wake: (() => void) | null = null;
  #ended = false;

  constructor(
    readonly id: string,
    readonly spec: ContainerSpec,
  ) {
    this.exited = new Promise((resolve) => (this.#resolveExit = resolve));
  }

  get labels(): Record<string, string> {
    return this.spec.labels;
  }

  write(stream: OutputStream, data: string | Buffer): void {
    if (this.state !== 'running') return;
    this.#chunks.push({ stream, data: Buffer.isBuffer(data) ? data : Buffer.from(data) });
    this.#wake?.();
  }

  stdout(line: string): void {
    this.write('stdout', `${line}\n`);
  }

  stderr(line: string): void {
    this.write('stderr', `${line}\n`);
  }

  exit(code: number): void {
    if (this.state !== 'running' && this.state !== 'created') return;
    this.state = 'exited';
    this.exitCode = code;
    this.#ended = true;
    this.#wake?.();
    this.#resolveExit(code);
  }

  ignoreTerm(): void {
    this.termIgnored = true;
  }

  async *output(signal: AbortSignal): AsyncGenerator<OutputChunk> {
    while (!signal.aborted) {
      const chunk = this.#chunks.shift();
      if (chunk) {
        yield chunk;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((resolve) => {
        // One listener per wait, removed when output wakes it: a long run must not pile them up.
        const onAbort = () => resolve();
        this.#wake = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        signal.addEventListener('abort', onAbort, { once: true });
      });
      this.#wake = null;
    }
  }
}

/**
 * An in-memory `ContainerRuntime` for unit tests: containers run a scripted behaviour instead of a
 * program, and every call is recorded.
 */
export class FakeContainerRuntime implements ContainerRuntime {
  behaviour: FakeBehaviour = (container) => container.exit(0);
  readonly images = new Set<string>(['nanoclaw-skill:latest']);
  /** Images that declare VOLUME folders (by image name). */
  readonly imageVolumeFolders = new Map<string, string[]>();
  readonly containers = new Map<string, FakeContainer>();
  readonly calls: Array<{
    method: Method | 'buildImage' | 'imageExists' | 'imageVolumes';
    id?: string;
  }> = [];
  readonly builds: ImageBuildRequest[] = [];
  readonly failures = new Map<Method, Error>();
  #next = 1;

  /** Containers not removed yet. */
  get remaining(): FakeContainer[] {
    return [...this.containers.values()].filter((container) => container.state !== 'removed');
  }

  get created(): FakeContainer[] {
    return [...this.containers.values()];
  }

  #fail(method: Method): void {
    const failure = this.failures.get(method);
    if (failure) throw failure;
  }

  #get(id: string): FakeContainer {
    const container = this.containers.get(id);
    if (!container || container.state === 'removed') {
      throw new ContainerRuntimeError('CONTAINER_FAILED', `no such container ${id}`, { statusCode: 404 });
    }
    return container;
  }

  async ping(): Promise<void> {}

  async version(): Promise<{ version: string; apiVersion: string }> {
    return { version: '0.0.0-fake', apiVersion: '1.41' };
  }

  async create(spec: ContainerSpec): Promise<string> {
    this.calls.push({ method: 'create' });
    this.#fail('create');
    if (!this.images.has(spec.image)) {
      throw new ContainerRuntimeError('IMAGE_NOT_FOUND', `image ${spec.image} does not exist on this host`);
    }
    const id = `fake-${this.#next++}`;
    this.containers.set(id, new FakeContainer(id, structuredClone(spec)));
    return id;
  }

  async attach(id: string, signal: AbortSignal): Promise<AsyncIterable<OutputChunk>> {
    this.calls.push({ method: 'attach', id });
    this.#fail('attach');
    return this.#get(id).output(signal);
  }

  async start(id: string): Promise<void> {
    this.calls.push({ method: 'start', id });
    this.#fail('start');
    const container = this.#get(id);
    container.state = 'running';
    // The program runs on its own, like a real container's.
    setImmediate(() => {
      Promise.resolve(this.behaviour(container)).catch(() => container.exit(1));
    });
  }

  async wait(id: string): Promise<number> {
    this.calls.push({ method: 'wait', id });
    this.#fail('wait');
    return this.#get(id).exited;
  }

  async stop(id: string, graceSeconds: number): Promise<void> {
    this.calls.push({ method: 'stop', id });
    this.#fail('stop');
    const container = this.containers.get(id);
    if (!container || container.state !== 'running') return;
    if (!container.termIgnored) return container.exit(143);
    await new Promise((resolve) => setTimeout(resolve, graceSeconds * 1000));
    container.exit(137);
  }

  async kill(id: string): Promise<void> {
    this.calls.push({ method: 'kill', id });
    this.#fail('kill');
    this.containers.get(id)?.exit(137);
  }

  async remove(id: string): Promise<void> {
    this.calls.push({ method: 'remove', id });
    this.#fail('remove');
    const container = this.containers.get(id);
    if (!container) return;
    container.exit(137);
    container.state = 'removed';
  }

  async listByLabels(labels: Record<string, string>): Promise<ContainerSummary[]> {
    this.calls.push({ method: 'listByLabels' });
    this.#fail('listByLabels');
    return this.remaining
      .filter((container) => Object.entries(labels).every(([key, value]) => container.labels[key] === value))
      .map((container) => ({ id: container.id, labels: container.labels, state: container.state }));
  }

  /** Adds a container as if another process had created it. */
  addForeign(labels: Record<string, string>, state: FakeContainer['state'] = 'running'): FakeContainer {
    const id = `foreign-${this.#next++}`;
    const container = new FakeContainer(id, { labels } as ContainerSpec);
    container.state = state;
    this.containers.set(id, container);
    return container;
  }

  async imageExists(image: string): Promise<boolean> {
    this.calls.push({ method: 'imageExists' });
    return this.images.has(image);
  }

  async imageVolumes(image: string): Promise<string[] | null> {
    this.calls.push({ method: 'imageVolumes' });
    return this.images.has(image) ? (this.imageVolumeFolders.get(image) ?? []) : null;
  }

  async buildImage(request: ImageBuildRequest): Promise<void> {
    this.calls.push({ method: 'buildImage' });
    this.builds.push(request);
    this.images.add(request.tag);
  }
}
