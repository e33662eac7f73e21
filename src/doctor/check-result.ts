/** ok: nothing to do; warn: works, but something will bite later; fail: something is broken now. */
export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One finding of `nanoclaw doctor`: never holds a secret value, only names of where secrets go. */
export interface CheckResult {
  /** Stable identifier, e.g. `docker-engine` or `builtin-source:github`. */
  name: string;
  status: CheckStatus;
  /** What was found, in one line. */
  message: string;
  /** How to fix it, in one line; null when there is nothing to fix. */
  fix: string | null;
}

export function ok(name: string, message: string): CheckResult {
  return { name, status: 'ok', message, fix: null };
}

export function warn(name: string, message: string, fix: string): CheckResult {
  return { name, status: 'warn', message, fix };
}

export function fail(name: string, message: string, fix: string): CheckResult {
  return { name, status: 'fail', message, fix };
}

/** Lists a few items and counts the rest, so a finding stays one readable line. */
export function summarizeList(items: readonly string[], shown = 3): string {
  if (items.length <= shown) return items.join(', ');
  return `${items.slice(0, shown).join(', ')} and ${items.length - shown} more`;
}

/** A URL as it may be shown: without user name or password. */
export function displayUrl(value: string): string {
  try {
    const url = new URL(value);
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/$/, '');
  } catch {
    return '(an invalid URL)';
  }
}
