import { describe, expect, it } from 'vitest';
import {
  currentProcess,
  formatDeadline,
  isLeftover,
  isProcessAlive,
  parseDeadline,
} from '../../../src/sandbox/container-labels.js';

const NOW = Date.parse('2030-06-01T12:00:00.000Z');
const self = { host: 'host-a', pid: 100, instance: 'instance-now' };
const check = { self, isAlive: (pid: number) => pid === 100 || pid === 200, now: NOW };
const labels = (extra: Record<string, string>) => ({ 'nanoclaw.managed': 'true', ...extra });
const past = formatDeadline(NOW - 1);
const future = formatDeadline(NOW + 60_000);

describe('isLeftover', () => {
  it.each([
    // [what, labels, leftover]
    [
      'this process, before its deadline',
      { host: 'host-a', pid: '100', instance: 'instance-now', deadline: future },
      false,
    ],
    [
      'this process, past its deadline',
      { host: 'host-a', pid: '100', instance: 'instance-now', deadline: past },
      true,
    ],
    [
      'same host and pid, another instance (a restart)',
      { host: 'host-a', pid: '100', instance: 'instance-before', deadline: future },
      true,
    ],
    ['same host and pid, no instance (an older version)', { host: 'host-a', pid: '100' }, true],
    [
      'a live process on this host',
      { host: 'host-a', pid: '200', instance: 'other', deadline: future },
      false,
    ],
    [
      'a live process on this host, past the deadline',
      { host: 'host-a', pid: '200', instance: 'other', deadline: past },
      true,
    ],
    [
      'a dead process on this host',
      { host: 'host-a', pid: '300', instance: 'other', deadline: future },
      true,
    ],
    ['a dead process on this host, no deadline', { host: 'host-a', pid: '300' }, true],
    [
      'another host, before the deadline',
      { host: 'host-b', pid: '300', instance: 'other', deadline: future },
      false,
    ],
    [
      'another host, past the deadline',
      { host: 'host-b', pid: '300', instance: 'other', deadline: past },
      true,
    ],
    ['another host, no deadline', { host: 'host-b', pid: '300' }, false],
    ['another host, a deadline that is not a time', { host: 'host-b', pid: '300', deadline: 'soon' }, false],
    ['no owning process', {}, true],
    ['a pid that is not a number', { host: 'host-a', pid: 'x' }, true],
  ] as const)('%s', (_what, given, leftover) => {
    const named: Record<string, string> = {};
    for (const [key, value] of Object.entries(given)) named[`nanoclaw.${key}`] = value;
    expect(isLeftover(labels(named), check)).toBe(leftover);
  });

  it('never takes a container without the managed label, however old', () => {
    expect(
      isLeftover({ 'nanoclaw.host': 'host-a', 'nanoclaw.pid': '300', 'nanoclaw.deadline': past }, check),
    ).toBe(false);
  });
});

describe('deadline labels', () => {
  it('are ISO 8601 UTC times, read back exactly; anything else is no deadline', () => {
    expect(formatDeadline(NOW)).toBe('2030-06-01T12:00:00.000Z');
    expect(parseDeadline(formatDeadline(NOW + 1))).toBe(NOW + 1);
    expect(parseDeadline(undefined)).toBeNull();
    expect(parseDeadline('1.5')).toBeNull();
    expect(parseDeadline('2030-06-01')).toBeNull();
    expect(parseDeadline('2030-13-45T99:00:00Z')).toBeNull();
  });
});

describe('currentProcess', () => {
  it('names this host and pid, with one instance id for the whole process', () => {
    const first = currentProcess();
    expect(first.pid).toBe(process.pid);
    expect(first.instance).toMatch(/^[0-9a-f-]{36}$/);
    expect(currentProcess().instance).toBe(first.instance);
  });
});

describe('isProcessAlive', () => {
  it('knows this process runs and a pid past the maximum does not', () => {
    expect(isProcessAlive(process.pid)).toBe(true);
    expect(isProcessAlive(2 ** 22 + 1)).toBe(false);
  });
});
