import { execFileSync } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** A small tmpfs mounted for one test file: a real disk that fills up or turns read-only. */
export interface TinyFilesystem {
  readonly dir: string;
  /** Writes a file until the filesystem refuses with ENOSPC; returns its path and size. */
  fill(name?: string): { file: string; bytes: number };
  /** Remounts read-only (writes fail with EROFS) or back read-write. */
  remount(mode: 'ro' | 'rw'): void;
  unmount(): Promise<void>;
}

export type TinyFilesystemResult =
  { available: true; fs: TinyFilesystem } | { available: false; reason: string };

/**
 * Mounts a tmpfs of `sizeKiB` on a fresh folder. Mounting needs root (CI runs as root); when it is
 * refused locally the caller skips with a loud notice, but in CI (`CI` set) that throws.
 */
export async function mountTinyFilesystem(sizeKiB: number): Promise<TinyFilesystemResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-fault-fs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0755`, 'tmpfs', dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    const reason = `cannot mount a tmpfs (${(error as Error).message.split('\n')[0]})`;
    if (process.env.CI) throw new Error(`the disk fault tests must run in CI, as root: ${reason}`);
    // eslint-disable-next-line no-console
    console.warn(
      `\n!!! SKIPPING the full-disk and read-only-disk fault tests: ${reason}\n!!! Run them as root.\n`,
    );
    return { available: false, reason };
  }
  let mounted = true;
  return {
    available: true,
    fs: {
      dir,
      fill(name = 'filler') {
        const file = path.join(dir, name);
        const fd = openSync(file, 'a');
        const chunk = Buffer.alloc(4096, 0x61);
        let bytes = 0;
        try {
          for (;;) {
            try {
              bytes += writeSync(fd, chunk);
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw error;
            }
          }
        } finally {
          closeSync(fd);
        }
        return { file, bytes };
      },
      remount(mode) {
        execFileSync('mount', ['-o', `remount,${mode}`, dir]);
      },
      async unmount() {
        if (!mounted) return;
        mounted = false;
        try {
          execFileSync('umount', [dir]);
        } catch {
          // Busy (a process still holds a file): detach now, freed when it lets go.
          execFileSync('umount', ['-l', dir]);
        }
        await rm(dir, { recursive: true, force: true });
      },
    },
  };
}
