import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { vi } from 'vitest';

/** One fsync of a folder through a FileHandle, with the names the folder held at that moment. */
export interface FolderFsync {
  dir: string;
  names: string[];
}

/**
 * Records every folder fsync made through `FileHandle.sync` from now on (Linux: the path comes from
 * /proc/self/fd). Spies on the prototype, so it sees calls from modules loaded before the test.
 */
export async function recordFolderFsyncs(): Promise<{ fsyncs: FolderFsync[]; restore: () => void }> {
  const probe: FileHandle = await open('.', 'r');
  const prototype = Object.getPrototypeOf(probe) as FileHandle;
  await probe.close();
  const fsyncs: FolderFsync[] = [];
  const original = prototype.sync;
  const spy = vi.spyOn(prototype, 'sync').mockImplementation(async function (this: FileHandle) {
    const target = readlinkSync(`/proc/self/fd/${this.fd}`);
    if (statSync(target).isDirectory()) fsyncs.push({ dir: target, names: readdirSync(target).sort() });
    return original.call(this);
  });
  return { fsyncs, restore: () => spy.mockRestore() };
}
