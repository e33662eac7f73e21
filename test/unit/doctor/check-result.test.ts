import { describe, expect, it } from 'vitest';
import { displayUrl, summarizeList } from '../../../src/doctor/check-result.js';
import { renderDoctorReport, summarizeChecks } from '../../../src/doctor/render-report.js';

describe('displayUrl', () => {
  it('drops a user name and password from a URL', () => {
    expect(displayUrl('https://user:hunter2@nango.example.com:3003/')).toBe('https://nango.example.com:3003');
  });

  it('does not echo text that is not a URL', () => {
    expect(displayUrl('not a url with sk-secret')).toBe('(an invalid URL)');
  });
});

describe('summarizeList', () => {
  it('lists up to three items and counts the rest', () => {
    expect(summarizeList(['a', 'b'])).toBe('a, b');
    expect(summarizeList(['a', 'b', 'c', 'd', 'e'])).toBe('a, b, c and 2 more');
  });
});

describe('renderDoctorReport', () => {
  it('prints one aligned line per check, the fix under a problem, and a summary', () => {
    const text = renderDoctorReport([
      { name: 'config', status: 'ok', message: 'loaded x', fix: null },
      { name: 'token-permissions', status: 'fail', message: 'too open', fix: 'chmod 640 f' },
      { name: 'webhook-signing-key', status: 'warn', message: 'not set', fix: 'set it' },
    ]);
    expect(text.split('\n')).toEqual([
      'ok    config               loaded x',
      'FAIL  token-permissions    too open',
      '                           fix: chmod 640 f',
      'warn  webhook-signing-key  not set',
      '                           fix: set it',
      '',
      '1 failed, 1 warning, 1 ok',
    ]);
  });

  it('counts warnings in the plural', () => {
    expect(
      summarizeChecks([
        { name: 'a', status: 'warn', message: '', fix: '' },
        { name: 'b', status: 'warn', message: '', fix: '' },
      ]),
    ).toBe('0 failed, 2 warnings, 0 ok');
  });
});
