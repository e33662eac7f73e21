import type { CheckResult, CheckStatus } from './check-result.js';

const LABELS: Record<CheckStatus, string> = { ok: 'ok', warn: 'warn', fail: 'FAIL' };

/** A checklist for people: one line per check, its fix indented below when there is one. */
export function renderDoctorReport(checks: readonly CheckResult[]): string {
  const nameWidth = Math.max(0, ...checks.map((check) => check.name.length));
  const indent = ' '.repeat(4 + 2 + nameWidth + 2);
  const lines = checks.flatMap((check) => {
    const head = `${LABELS[check.status].padEnd(4)}  ${check.name.padEnd(nameWidth)}  ${check.message}`;
    return check.fix === null ? [head] : [head, `${indent}fix: ${check.fix}`];
  });
  return [...lines, '', summarizeChecks(checks)].join('\n');
}

/** "1 failed, 2 warnings, 7 ok". */
export function summarizeChecks(checks: readonly CheckResult[]): string {
  const count = (status: CheckStatus) => checks.filter((check) => check.status === status).length;
  const warnings = count('warn');
  return `${count('fail')} failed, ${warnings} ${warnings === 1 ? 'warning' : 'warnings'}, ${count('ok')} ok`;
}
