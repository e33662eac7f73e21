import { watch } from 'chokidar';

export type FileEventKind = 'add' | 'change' | 'unlink';

export interface FileEvent {
  kind: FileEventKind;
  /** Absolute path. */
  path: string;
}

export interface WatchFilesOptions {
  /** An existing folder. */
  root: string;
  /** How many folder levels below the root to watch (0: the root's own entries). */
  depth: number;
  /** Skip the events for what is already there when watching starts. */
  ignoreInitial: boolean;
  onEvent(event: FileEvent): void;
  onError(error: unknown): void;
}

/** A running watch; `close` is the one way to end it. */
export interface FileWatcher {
  close(): Promise<void>;
}

/**
 * Watches files under a folder: the one place that knows chokidar. Resolves once the initial scan is
 * done, so "what is there now" has been reported (unless ignored) before the caller goes on. An error
 * before then (the root is a symlink loop, say) closes the watch and rejects; later ones go to
 * `onError`.
 */
export async function watchFiles(options: WatchFilesOptions): Promise<FileWatcher> {
  const watcher = watch(options.root, {
    depth: options.depth,
    ignoreInitial: options.ignoreInitial,
    persistent: true,
    // A temp file renamed over the original (atomic writes) reads as one change, not unlink + add.
    atomic: true,
  });
  watcher.on('add', (path) => options.onEvent({ kind: 'add', path }));
  watcher.on('change', (path) => options.onEvent({ kind: 'change', path }));
  watcher.on('unlink', (path) => options.onEvent({ kind: 'unlink', path }));
  let state: 'starting' | 'running' | 'failed' = 'starting';
  try {
    await new Promise<void>((resolve, reject) => {
      watcher.once('ready', () => {
        if (state === 'starting') state = 'running';
        resolve();
      });
      watcher.on('error', (error) => {
        if (state === 'running') return options.onError(error);
        if (state === 'failed') return;
        state = 'failed';
        reject(error);
      });
    });
  } catch (error) {
    // Nobody else holds this watcher: left open, it would keep the process alive for good.
    await watcher.close();
    throw error;
  }
  let closing: Promise<void> | null = null;
  return {
    close: () => {
      closing ??= watcher.close();
      return closing;
    },
  };
}
