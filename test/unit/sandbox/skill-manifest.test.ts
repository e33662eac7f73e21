import { describe, expect, it } from 'vitest';
import { InvalidManifestError } from '../../../src/sandbox/sandbox-errors.js';
import {
  parseMemorySize,
  parseSkillManifest,
  validateSkillManifest,
} from '../../../src/sandbox/skill-manifest.js';

const minimal = { name: 'hello', command: ['python3', '/opt/nanoclaw/skills/hello/main.py'] };

function errorsOf(value: unknown, folder = 'hello'): string[] {
  const result = validateSkillManifest(value, folder);
  return 'errors' in result ? result.errors : [];
}

describe('validateSkillManifest', () => {
  it('applies the defaults: default image, no providers, 300 s, 256m, 128 pids, no network', () => {
    expect(validateSkillManifest(minimal, 'hello')).toEqual({
      manifest: {
        name: 'hello',
        description: '',
        image: null,
        command: ['python3', '/opt/nanoclaw/skills/hello/main.py'],
        providers: [],
        timeoutSeconds: 300,
        memoryBytes: 256 * 1024 * 1024,
        pidsLimit: 128,
        network: 'none',
      },
    });
  });

  it('reads every field', () => {
    const result = validateSkillManifest(
      {
        ...minimal,
        description: 'Says hello',
        image: 'registry.example/skills/hello:1.2',
        providers: [
          { name: 'google-calendar', scopes: ['calendar', 'https://www.googleapis.com/auth/calendar'] },
          { name: 'github' },
        ],
        timeout: 2.5,
        memory: '1g',
        pids: 64,
        network: 'bridge',
      },
      'hello',
    );
    expect(result).toMatchObject({
      manifest: {
        description: 'Says hello',
        image: 'registry.example/skills/hello:1.2',
        providers: [
          { name: 'google-calendar', scopes: ['calendar', 'https://www.googleapis.com/auth/calendar'] },
          { name: 'github', scopes: [] },
        ],
        timeoutSeconds: 2.5,
        memoryBytes: 1024 ** 3,
        pidsLimit: 64,
        network: 'bridge',
      },
    });
  });

  it.each([
    [{ ...minimal, name: 'other' }, 'name: must equal the skill\'s folder name "hello"'],
    [
      { ...minimal, name: 'Hello' },
      'name: expected a skill name: 1-64 lowercase letters, digits, "_", "." or "-"',
    ],
    [{ name: 'hello' }, 'command: expected an array of strings (program and arguments)'],
    [{ ...minimal, command: [] }, 'command: expected at least the program to run'],
    [
      { ...minimal, command: 'python3 main.py' },
      'command: expected an array of strings (program and arguments)',
    ],
    [{ ...minimal, command: ['python3', 3] }, 'command[1]: expected a string'],
    [{ ...minimal, providers: { name: 'github' } }, 'providers: expected a list of providers'],
    [
      { ...minimal, providers: [{ name: 'github' }, { name: 'Bad Name' }] },
      'providers[1].name: expected a provider name: 1-64 lowercase letters, digits, "_", "." or "-"',
    ],
    [
      { ...minimal, providers: [{ name: 'github', scopes: 'repo' }] },
      'providers[0].scopes: expected an array of strings',
    ],
    [
      { ...minimal, providers: [{ name: 'github', scopes: ['repo,user'] }] },
      'providers[0].scopes[0]: expected a scope: visible characters, no comma or space',
    ],
    [
      { ...minimal, providers: [{ name: 'github' }, { name: 'github' }] },
      'providers[1].name: provider "github" is declared twice',
    ],
    [
      { ...minimal, providers: [{ name: 'github', scope: ['x'] }] },
      'providers[0]: Unrecognized key: "scope"',
    ],
    [{ ...minimal, timeout: 0 }, 'timeout: must be more than 0'],
    [{ ...minimal, timeout: '60' }, 'timeout: expected a number of seconds'],
    [{ ...minimal, memory: 'lots' }, 'memory: expected a size such as "128m"'],
    [{ ...minimal, memory: '1m' }, 'memory: must be at least 6m'],
    [{ ...minimal, pids: 2.5 }, 'pids: expected a whole number'],
    [{ ...minimal, network: 'host' }, 'network: expected "none" or "bridge"'],
    [{ ...minimal, image: 'has space' }, 'image: expected an image name such as "nanoclaw-skill:latest"'],
    [{ ...minimal, privileged: true }, '(root): Unrecognized key: "privileged"'],
  ])('reports %j as a path: message error', (value, message) => {
    expect(errorsOf(value)).toContain(message);
  });

  it('reports every problem at once', () => {
    expect(errorsOf({ name: 'hello', command: [], timeout: -1, network: 'host' })).toHaveLength(3);
  });
});

describe('parseSkillManifest', () => {
  const file = '/skills/hello/skill.yaml';

  it('parses YAML text', () => {
    const manifest = parseSkillManifest(
      'name: hello\ncommand: [python3, main.py]\nproviders:\n  - name: github\n    scopes: [repo]\nmemory: 128m\n',
      { file, folderName: 'hello' },
    );
    expect(manifest.providers).toEqual([{ name: 'github', scopes: ['repo'] }]);
    expect(manifest.memoryBytes).toBe(128 * 1024 * 1024);
  });

  it('throws INVALID_MANIFEST naming the file and each problem', () => {
    const error = (() => {
      try {
        parseSkillManifest('name: hello\ncommand: []\nnetwork: host\n', { file, folderName: 'hello' });
      } catch (caught) {
        return caught;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(InvalidManifestError);
    expect(error).toMatchObject({
      code: 'INVALID_MANIFEST',
      problems: ['command: expected at least the program to run', 'network: expected "none" or "bridge"'],
    });
    expect((error as Error).message).toContain(file);
  });

  it('reports YAML syntax errors with their position', () => {
    expect(() => parseSkillManifest('name: [hello\n', { file, folderName: 'hello' })).toThrow(
      /line \d+, column \d+/,
    );
  });

  it('rejects duplicate keys and a manifest that is not a mapping', () => {
    expect(() =>
      parseSkillManifest('name: hello\nname: hello\ncommand: [x]\n', { file, folderName: 'hello' }),
    ).toThrow(InvalidManifestError);
    expect(() => parseSkillManifest('- hello\n', { file, folderName: 'hello' })).toThrow(
      /\(root\): expected a mapping of skill settings/,
    );
    expect(() => parseSkillManifest('', { file, folderName: 'hello' })).toThrow(InvalidManifestError);
  });

  it('accepts the reference skill manifest', async () => {
    const { readFile } = await import('node:fs/promises');
    const text = await readFile(
      new URL('../../../skills/google-calendar/skill.yaml', import.meta.url),
      'utf8',
    );
    expect(parseSkillManifest(text, { file, folderName: 'google-calendar' })).toMatchObject({
      name: 'google-calendar',
      providers: [{ name: 'google-calendar', scopes: ['calendar', 'calendar.events'] }],
      network: 'bridge',
    });
  });
});

describe('parseMemorySize', () => {
  it.each([
    ['128m', 128 * 1024 ** 2],
    ['128M', 128 * 1024 ** 2],
    ['2g', 2 * 1024 ** 3],
    ['512k', 512 * 1024],
    ['7000000', 7_000_000],
    ['7000000b', 7_000_000],
    ['1.5g', null],
    ['-1m', null],
    ['', null],
  ])('%s -> %s', (text, bytes) => {
    expect(parseMemorySize(text)).toBe(bytes);
  });
});
