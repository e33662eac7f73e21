import { describe, expect, it } from 'vitest';
import { hotCommandOf } from '../../../src/cli/start/hot-command.js';

describe('which bundle the built CLI starts', () => {
  it('a hot command named first, or after the config option, runs from its own bundle', () => {
    expect(hotCommandOf(['sync'])).toBe('sync');
    expect(hotCommandOf(['sync', '--owner', 'alice', 'github'])).toBe('sync');
    expect(hotCommandOf(['status', '--json'])).toBe('status');
    expect(hotCommandOf(['-c', 'other.yaml', 'status'])).toBe('status');
    expect(hotCommandOf(['--config', 'other.yaml', 'sync'])).toBe('sync');
    expect(hotCommandOf(['--config=other.yaml', 'sync'])).toBe('sync');
    expect(hotCommandOf(['-cother.yaml', 'status'])).toBe('status');
    expect(hotCommandOf(['run', 'noop', '--json', '--', 'sync'])).toBe('run');
    expect(hotCommandOf(['-c', 'other.yaml', 'run', 'noop'])).toBe('run');
  });

  it('anything else takes the general way', () => {
    for (const argv of [
      [],
      ['--help'],
      ['help', 'sync'],
      ['skills', 'sync'],
      ['relay', 'run'],
      ['serve'],
      ['--json', 'sync'],
      ['-c', 'sync'],
      ['--config', 'sync'],
      ['-c', 'a.yaml', '--json', 'status'],
      ['-c--x', 'status'],
      ['sync-all'],
    ]) {
      expect(hotCommandOf(argv), argv.join(' ')).toBeNull();
    }
  });
});
