import { describe, expect, it } from 'vitest';
import { isLeftover, isProcessAlive } from '../../../src/sandbox/container-labels.js';

const self = { host: 'host-a', pid: 100 };
const labels = (extra: Record<string, string>) => ({ 'nanoclaw.managed': 'true', ...extra });

describe('isLeftover', () => {
  const alive = (pid: number) => pid === 200;

  it('reaps the containers of a dead process on this host', () => {
    expect(isLeftover(labels({ 'nanoclaw.host': 'host-a', 'nanoclaw.pid': '300' }), self, alive)).toBe(true);
  });

  it('leaves the containers of a live process, of this process and of other hosts alone', () => {
    expect(isLeftover(labels({ 'nanoclaw.host': 'host-a', 'nanoclaw.pid': '200' }), self, alive)).toBe(false);
    expect(isLeftover(labels({ 'nanoclaw.host': 'host-a', 'nanoclaw.pid': '100' }), self, alive)).toBe(false);
    expect(isLeftover(labels({ 'nanoclaw.host': 'host-b', 'nanoclaw.pid': '300' }), self, alive)).toBe(false);
  });

  it('reaps labelled containers that name no owning process, and never unlabelled ones', () => {
    expect(isLeftover(labels({}), self, alive)).toBe(true);
    expect(isLeftover(labels({ 'nanoclaw.host': 'host-a', 'nanoclaw.pid': 'x' }), self, alive)).toBe(true);
    expect(isLeftover({ 'nanoclaw.host': 'host-a', 'nanoclaw.pid': '300' }, self, alive)).toBe(false);
  });
});

describe('isProcessAlive', () => {
  it('knows this process runs and a pid past the maximum does not', () => {
    expect(isProcessAlive(process.pid)).toBe(true);
    expect(isProcessAlive(2 ** 22 + 1)).toBe(false);
  });
});
