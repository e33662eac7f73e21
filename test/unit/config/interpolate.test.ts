import { describe, expect, it } from 'vitest';
import { formatPath, interpolateEnvironment } from '../../../src/config/interpolate.js';

describe('interpolateEnvironment', () => {
  it('replaces ${VAR} with the variable', () => {
    const { value, problems } = interpolateEnvironment(
      { nango: { secretKey: '${NANGO_KEY}', host: 'https://${HOST}/api' } },
      { NANGO_KEY: 'key-1', HOST: 'nango.example' },
    );
    expect(problems).toEqual([]);
    expect(value).toEqual({ nango: { secretKey: 'key-1', host: 'https://nango.example/api' } });
  });

  it('uses the default of ${VAR:-default} when the variable is unset or empty', () => {
    const { value, problems } = interpolateEnvironment(
      { a: '${UNSET:-fallback}', b: '${EMPTY:-other}', c: '${SET:-unused}', d: '${UNSET:-}' },
      { EMPTY: '', SET: 'set' },
    );
    expect(problems).toEqual([]);
    expect(value).toEqual({ a: 'fallback', b: 'other', c: 'set', d: '' });
  });

  it('reports every unset variable at its path, without a default', () => {
    const { problems } = interpolateEnvironment(
      { providers: [{ name: 'a' }, { clientSecret: '${CLIENT_SECRET}' }], owner: '${OWNER}' },
      {},
    );
    expect(problems).toEqual([
      'providers[1].clientSecret: environment variable CLIENT_SECRET is not set',
      'owner: environment variable OWNER is not set',
    ]);
  });

  it('writes $${ as a literal ${', () => {
    expect(interpolateEnvironment({ a: 'cost $${HOME}' }, { HOME: '/root' }).value).toEqual({
      a: 'cost ${HOME}',
    });
  });

  it('never re-reads a substituted value as YAML or as another reference', () => {
    const { value } = interpolateEnvironment(
      { a: '${TRICK}', n: 5, t: true, z: null },
      { TRICK: '${OTHER}\nproviders: []', OTHER: 'x' },
    );
    expect(value).toEqual({ a: '${OTHER}\nproviders: []', n: 5, t: true, z: null });
  });
});

describe('formatPath', () => {
  it('writes array indexes in brackets and keys with dots', () => {
    expect(formatPath(['providers', 2, 'scopes'])).toBe('providers[2].scopes');
    expect(formatPath([])).toBe('(root)');
  });

  it('quotes keys that are not plain words', () => {
    expect(formatPath(['providers', 0, 'connections', '../x'])).toBe('providers[0].connections["../x"]');
    expect(formatPath(['providers', 0, 'connections', 'team-a'])).toBe('providers[0].connections.team-a');
  });
});
