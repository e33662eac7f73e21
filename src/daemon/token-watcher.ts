import path from 'node:path';
import { describeError } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { Logger } from '../log/logger.js';
import { isOwnerId, isProviderName } from '../names.js';
import type { SyncResult } from '../tokens/sync-result.js';
import type { StoredToken } from '../tokens/token-folder.js';
import type { SyncOptions } from '../tokens/token-sync.js';
import { Debouncer } from './debouncer.js';
import { watchFiles, type FileWatcher } from './file-watcher.js';

export interface TokenWatcherOptions {
  /** The token folder's root (it must exist). */
  root: string;
  providers: readonly { name: string }[];
  read(owner: string, provider: string): Promise<StoredToken>;
  sync(owner: string, provider: string, options: SyncOptions): Promise<SyncResult>;
  /** A file appeared or changed (whoever wrote it): plan its refresh from what it now says. */
  onPresent?(owner: string, provider: string): Promise<void>;
  events: EventBus;
  logger: Logger;
  /** Quiet time before a changed file is looked at. */
  debounceMs?: number;
}

/**
 * Restores token files deleted or corrupted by hand, at once, from the source, and hands every file
 * that appears or changes (a separate `nanoclaw sync`, say) to the refresher. A file is only looked
 * at, never trusted from the event alone: our own atomic writes leave a valid file (nothing to
 * restore), and a removal we announced (`token_needs_auth`: disconnect, refused refresh) is left alone.
 */
export class TokenWatcher {
  readonly #options: TokenWatcherOptions;
  readonly #providers: Set<string>;
  readonly #debouncer: Debouncer;
  /** Pairs whose file should exist: seen on disk or synced, and not since announced as needing auth. */
  readonly #expected = new Set<string>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #controller = new AbortController();
  #watcher: FileWatcher | null = null;
  /** Until the initial scan is done, files found are only noted (the refresher repairs damaged ones). */
  #scanning = true;
  #unsubscribe: (() => void) | null = null;

  private constructor(options: TokenWatcherOptions) {
    this.#options = options;
    this.#providers = new Set(options.providers.map((provider) => provider.name));
    this.#debouncer = new Debouncer(options.debounceMs ?? 100);
  }

  static async start(options: TokenWatcherOptions): Promise<TokenWatcher> {
    const watcher = new TokenWatcher(options);
    watcher.#unsubscribe = options.events.subscribe((event) => {
      if (event.type === 'token_synced') watcher.#expected.add(`${event.owner}/${event.provider}`);
      if (event.type === 'token_needs_auth') watcher.#expected.delete(`${event.owner}/${event.provider}`);
    });
    try {
      watcher.#watcher = await watchFiles({
        root: options.root,
        depth: 1,
        ignoreInitial: false,
        onEvent: (event) => watcher.#onFileEvent(event.kind, event.path),
        onError: (error) => options.logger.error(describeError(error), 'token folder watcher failed'),
      });
    } catch (error) {
      await watcher.close();
      throw error;
    }
    watcher.#scanning = false;
    return watcher;
  }

  async close(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#debouncer.close();
    this.#controller.abort(new Error('the token watcher is closing'));
    await this.#watcher?.close();
    this.#watcher = null;
    await Promise.allSettled([...this.#inFlight]);
  }

  #onFileEvent(kind: 'add' | 'change' | 'unlink', file: string): void {
    const target = this.#targetOf(file);
    if (!target) return;
    const key = `${target.owner}/${target.provider}`;
    if (this.#scanning) {
      this.#expected.add(key);
      return;
    }
    if (this.#controller.signal.aborted) return;
    this.#debouncer.schedule(key, () => this.#track(this.#check(target.owner, target.provider, key)));
  }

  /** `<root>/<owner>/<provider>.json` for a configured provider; temp files and strays are not ours. */
  #targetOf(file: string): { owner: string; provider: string } | null {
    const relative = path.relative(this.#options.root, file).split(path.sep);
    if (relative.length !== 2) return null;
    const [owner, name] = relative as [string, string];
    if (!name.endsWith('.json')) return null;
    const provider = name.slice(0, -'.json'.length);
    if (!isOwnerId(owner) || !isProviderName(provider) || !this.#providers.has(provider)) return null;
    return { owner, provider };
  }

  async #check(owner: string, provider: string, key: string): Promise<void> {
    const stored = await this.#options.read(owner, provider);
    if (stored.state === 'present') {
      this.#expected.add(key);
      await this.#options.onPresent?.(owner, provider);
      return;
    }
    if (stored.state === 'missing' && !this.#expected.has(key)) return;
    this.#options.logger.warn(
      { owner, provider, state: stored.state },
      'token file was removed or damaged by hand; restoring it from the source',
    );
    // The lost file held a token the source still has: ask again, without making the provider refresh.
    const result = await this.#options.sync(owner, provider, {
      mode: 'recheck',
      signal: this.#controller.signal,
    });
    if (result.state === 'unavailable') {
      this.#options.events.emit({
        type: 'error',
        code: 'TOKEN_RESTORE_FAILED',
        message: `the ${provider} token of ${owner} could not be restored: ${result.message ?? result.code ?? 'source unavailable'}`,
        owner,
        provider,
      });
    }
  }

  #track(work: Promise<void>): void {
    const tracked = work
      .catch((error: unknown) =>
        this.#options.logger.error(describeError(error), 'token file restore failed'),
      )
      .finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }
}
