import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

/** Every container we create carries these, so leftovers can be found after a crash. */
export const LABEL_MANAGED = 'nanoclaw.managed';
export const LABEL_SKILL = 'nanoclaw.skill';
export const LABEL_OWNER = 'nanoclaw.owner';
export const LABEL_RUN_ID = 'nanoclaw.run-id';
/** Host name, pid and instance of the process that owns the container: only a gone owner's containers are reaped. */
export const LABEL_HOST = 'nanoclaw.host';
export const LABEL_PID = 'nanoclaw.pid';
export const LABEL_INSTANCE = 'nanoclaw.instance';
/** When the run must be over (ISO 8601, UTC): past it, the container is a leftover whoever made it. */
export const LABEL_DEADLINE = 'nanoclaw.deadline';

export const MANAGED_LABELS = { [LABEL_MANAGED]: 'true' } as const;

/**
 * A random id per process: a daemon restarted in the same container keeps its host name and, under
 * an init, its pid, so only this tells its new life from the crashed one.
 */
export const PROCESS_INSTANCE = randomUUID();

export interface ContainerOwnerProcess {
  host: string;
  pid: number;
  instance: string;
}

/** The process we run in. */
export function currentProcess(): ContainerOwnerProcess {
  return { host: hostname(), pid: process.pid, instance: PROCESS_INSTANCE };
}

export interface LeftoverCheck {
  self: ContainerOwnerProcess;
  isAlive(pid: number): boolean;
  /** Milliseconds since the epoch. */
  now: number;
}

const DEADLINE_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;

/** The deadline label's value for a time. */
export function formatDeadline(time: number): string {
  return new Date(time).toISOString();
}

/** A deadline label's time, or null when it is missing or not an ISO 8601 UTC time. */
export function parseDeadline(value: string | undefined): number | null {
  if (value === undefined || !DEADLINE_PATTERN.test(value)) return null;
  const time = Date.parse(value);
  return Number.isFinite(time) ? time : null;
}

/**
 * A labelled container is a leftover when its run is past its deadline (whatever host made it: a
 * host that is gone or renamed never comes back for it), or when the process that created it is
 * gone: same host and either a pid that no longer runs or our own pid from another instance (a
 * restart). Containers of a live `nanoclaw run` or daemon, or of another host before their deadline,
 * are left alone.
 */
export function isLeftover(labels: Readonly<Record<string, string>>, check: LeftoverCheck): boolean {
  if (labels[LABEL_MANAGED] !== 'true') return false;
  const deadline = parseDeadline(labels[LABEL_DEADLINE]);
  if (deadline !== null && check.now > deadline) return true;
  const host = labels[LABEL_HOST];
  const pid = Number(labels[LABEL_PID]);
  // Without an owner process we cannot tell whether it still runs: reap it (it predates these labels).
  if (host === undefined || !Number.isSafeInteger(pid) || pid <= 0) return true;
  if (host !== check.self.host) return false;
  if (labels[LABEL_INSTANCE] === check.self.instance) return false;
  if (pid === check.self.pid) return true;
  return !check.isAlive(pid);
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
