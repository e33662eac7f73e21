import { describe, expect, it } from 'vitest';
import { formatDuration, formatRelative, formatTime, renderTable } from '../../../src/cli/output/table.js';

describe('renderTable', () => {
  it('aligns columns under their headers and trims line ends', () => {
    expect(
      renderTable(
        ['OWNER', 'PROVIDER', 'DETAIL'],
        [
          ['main', 'google-calendar', ''],
          ['alice', 'github', 'Nango answered HTTP 503'],
        ],
      ),
    ).toBe(
      [
        'OWNER  PROVIDER         DETAIL',
        'main   google-calendar',
        'alice  github           Nango answered HTTP 503',
      ].join('\n'),
    );
  });

  it('prints only the header for no rows', () => {
    expect(renderTable(['A', 'B'], [])).toBe('A  B');
  });
});

describe('formatRelative and formatDuration', () => {
  const now = Date.parse('2030-01-01T12:00:00Z');
  it('says how far a time is, ahead or behind', () => {
    expect(formatRelative('2030-01-01T12:00:30Z', now)).toBe('in 30s');
    expect(formatRelative('2030-01-01T12:59:00Z', now)).toBe('in 59m');
    expect(formatRelative('2030-01-01T14:05:00Z', now)).toBe('in 2h 5m');
    expect(formatRelative('2030-01-04T15:00:00Z', now)).toBe('in 3d 3h');
    expect(formatRelative('2030-01-01T11:57:00Z', now)).toBe('3m ago');
    expect(formatRelative(null, now)).toBe('never');
  });

  it('rounds to whole seconds', () => {
    expect(formatDuration(1499)).toBe('1s');
    expect(formatDuration(59_600)).toBe('1m');
  });
});

describe('formatTime', () => {
  it('prints UTC to the second, or a dash', () => {
    expect(formatTime('2030-01-01T12:00:00.123Z')).toBe('2030-01-01 12:00:00Z');
    expect(formatTime(null)).toBe('-');
  });
});
