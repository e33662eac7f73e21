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
 * done, so "what is there now" has been reported (unless ignored) before the caller goes on.
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
  watcher.on('error', (error) => options.onError(error));
  await new Promise<void>((resolve, reject) => {
    watcher.once('ready', () => resolve());
    watcher.once('error', reject);
  });
  let closing: Promise<void> | null = null;
  return {
    close: () => {
      closing ??= watcher.close();
      return closing;
    },
  };
}
