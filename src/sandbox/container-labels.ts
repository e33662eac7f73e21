/** Every container we create carries these, so leftovers can be found after a crash. */
export const LABEL_MANAGED = 'nanoclaw.managed';
export const LABEL_SKILL = 'nanoclaw.skill';
export const LABEL_OWNER = 'nanoclaw.owner';
export const LABEL_RUN_ID = 'nanoclaw.run-id';
/** Host name and pid of the process that owns the container: only a dead owner's containers are reaped. */
export const LABEL_HOST = 'nanoclaw.host';
export const LABEL_PID = 'nanoclaw.pid';

export const MANAGED_LABELS = { [LABEL_MANAGED]: 'true' } as const;

export interface ContainerOwnerProcess {
  host: string;
  pid: number;
}

/**
 * A labelled container is a leftover when the process that created it is gone: same host and a pid
 * that no longer runs. Containers of a live `nanoclaw run` or daemon, or of another host sharing
 * the engine, are left alone.
 */
export function isLeftover(
  labels: Readonly<Record<string, string>>,
  self: ContainerOwnerProcess,
  isAlive: (pid: number) => boolean,
): boolean {
  if (labels[LABEL_MANAGED] !== 'true') return false;
  const host = labels[LABEL_HOST];
  const pid = Number(labels[LABEL_PID]);
  // Without an owner process we cannot tell whether it still runs: reap it (it predates these labels).
  if (host === undefined || !Number.isSafeInteger(pid) || pid <= 0) return true;
  if (host !== self.host) return false;
  if (pid === self.pid) return false;
  return !isAlive(pid);
}

/** Whether a pid runs on this machine (EPERM: it runs, as another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
