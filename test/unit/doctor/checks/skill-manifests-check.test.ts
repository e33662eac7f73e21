import { describe, expect, it } from 'vitest';
import {
  checkSkillManifests,
  type LoadedSkills,
} from '../../../../src/doctor/checks/skill-manifests-check.js';

const signal = new AbortController().signal;

function input(loaded: LoadedSkills | Error, configuredProviders: string[] = ['google-calendar']) {
  return {
    skillsDir: '/srv/skills',
    configuredProviders,
    loadSkills: async () => {
      if (loaded instanceof Error) throw loaded;
      return loaded;
    },
  };
}

describe('checkSkillManifests', () => {
  it('passes for valid skills whose providers are configured, and hands on their own images', async () => {
    const outcome = await checkSkillManifests(
      input({
        folderExists: true,
        skills: [
          { name: 'google-calendar', image: null, providers: ['google-calendar'] },
          { name: 'other', image: 'acme/other:1', providers: [] },
        ],
        problems: [],
      }),
      signal,
    );
    expect(outcome.result).toMatchObject({ status: 'ok', message: '2 valid skills: google-calendar, other' });
    expect(outcome.skillImages).toEqual([{ skill: 'other', image: 'acme/other:1' }]);
  });

  it('fails with every manifest problem and every unconfigured provider', async () => {
    const outcome = await checkSkillManifests(
      input({
        folderExists: true,
        skills: [{ name: 'mail', image: null, providers: ['gmail'] }],
        problems: [
          {
            file: '/srv/skills/bad/skill.yaml',
            problems: ['command: expected at least the program to run', 'timeout: must be more than 0'],
          },
        ],
      }),
      signal,
    );
    expect(outcome.result.status).toBe('fail');
    expect(outcome.result.message).toBe(
      '3 problems: /srv/skills/bad/skill.yaml: command: expected at least the program to run; ' +
        '/srv/skills/bad/skill.yaml: timeout: must be more than 0; ' +
        'skill mail: provider "gmail" is not configured in nanoclaw.config.yaml',
    );
  });

  it('warns when there is no skills folder or no skill', async () => {
    const none = await checkSkillManifests(input({ folderExists: false, skills: [], problems: [] }), signal);
    expect(none.result).toMatchObject({ status: 'warn', message: 'no skills folder at /srv/skills' });
    const empty = await checkSkillManifests(input({ folderExists: true, skills: [], problems: [] }), signal);
    expect(empty.result).toMatchObject({ status: 'warn', message: 'no skills in /srv/skills' });
  });

  it('fails when the folder cannot be read', async () => {
    const outcome = await checkSkillManifests(
      input(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' })),
      signal,
    );
    expect(outcome.result).toMatchObject({ status: 'fail' });
    expect(outcome.result.message).toContain('(EACCES)');
  });
});
