import { readdir, readFile } from 'node:fs/promises';

/**
 * CPU seconds (user + system, with reaped children) of every live process of this machine whose name
 * is `name`, from /proc: how much a local server (PostgreSQL's backends) worked between two readings.
 * Null where there is no /proc (not Linux) or no such process is visible.
 */
export async function cpuSecondsOf(name: string): Promise<number | null> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return null;
  }
  let total = 0;
  let found = false;
  for (const pid of entries) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
    if (stat === null) continue;
    const close = stat.lastIndexOf(')');
    if (stat.slice(stat.indexOf('(') + 1, close) !== name) continue;
    // Fields 14-17 of proc(5): utime, stime, cutime, cstime, in clock ticks (100 a second on Linux).
    const fields = stat.slice(close + 2).split(' ');
    total += (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / 100;
    found = true;
  }
  return found ? total : null;
}
