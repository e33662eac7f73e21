import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { sleep } from '../../async/abort.js';
import { LockTimeoutError } from '../store-errors.js';

export interface FileLockOptions {
  signal: AbortSignal;
  /** How long to wait for another holder. */
  timeoutMs: number;
  /** A lock not touched for this long belongs to a crashed process and is taken over. */
  staleMs: number;
}

export interface HeldLock {
  release(): Promise<void>;
  /** True when the lock went stale under us (the event loop stalled for `staleMs`). */
  readonly compromised: boolean;
}

/**
 * A lock shared by every process on this host (proper-lockfile: an atomic `mkdir`, its mtime kept fresh
 * while held). Polls instead of proper-lockfile's own retries so the caller's AbortSignal is honoured.
 */
export async function acquireFileLock(lockPath: string, options: FileLockOptions): Promise<HeldLock> {
  await mkdir(path.dirname(lockPath), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + options.timeoutMs;
  let waitMs = 10;
  for (;;) {
    options.signal.throwIfAborted();
    let compromised = false;
    try {
      const release = await lockfile.lock(lockPath, {
        lockfilePath: lockPath,
        realpath: false,
        stale: options.staleMs,
        retries: 0,
        // The default throws from a timer and takes the process down.
        onCompromised: () => {
          compromised = true;
        },
      });
      return {
        release: async () => {
          if (!compromised) await release().catch(() => {});
        },
        get compromised() {
          return compromised;
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new LockTimeoutError(`timed out waiting for ${lockPath}`);
    await sleep(Math.min(remaining, waitMs * (0.5 + Math.random())), options.signal);
    waitMs = Math.min(waitMs * 2, 200);
  }
}
