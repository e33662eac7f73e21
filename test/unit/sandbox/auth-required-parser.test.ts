import { randomBytes, randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseAuthRequiredLine } from '../../../src/sandbox/auth-required-parser.js';

const declared = new Set(['google-calendar', 'github']);

describe('parseAuthRequiredLine', () => {
  it('reads a provider and its scopes', () => {
    expect(parseAuthRequiredLine('AUTH_REQUIRED:google-calendar:calendar,calendar.events', declared)).toEqual(
      {
        provider: 'google-calendar',
        scopes: ['calendar', 'calendar.events'],
      },
    );
  });

  it('reads a provider without scopes', () => {
    expect(parseAuthRequiredLine('AUTH_REQUIRED:github', declared)).toEqual({
      provider: 'github',
      scopes: [],
    });
  });

  it('keeps URL scopes whole: only the first colon after the provider separates', () => {
    expect(
      parseAuthRequiredLine(
        'AUTH_REQUIRED:google-calendar:https://www.googleapis.com/auth/calendar,openid',
        declared,
      ),
    ).toEqual({
      provider: 'google-calendar',
      scopes: ['https://www.googleapis.com/auth/calendar', 'openid'],
    });
  });

  it('keeps Lark scopes whole: everything after the provider is the comma-separated scope list', () => {
    expect(
      parseAuthRequiredLine(
        'AUTH_REQUIRED:lark-calendar:calendar:calendar,offline_access',
        new Set(['lark-calendar']),
      ),
    ).toEqual({ provider: 'lark-calendar', scopes: ['calendar:calendar', 'offline_access'] });
    expect(
      parseAuthRequiredLine(
        'AUTH_REQUIRED:lark-calendar:calendar:calendar.event:read,calendar:calendar:readonly',
        new Set(['lark-calendar']),
      ),
    ).toEqual({
      provider: 'lark-calendar',
      scopes: ['calendar:calendar.event:read', 'calendar:calendar:readonly'],
    });
  });

  it('accepts a CRLF line ending', () => {
    expect(parseAuthRequiredLine('AUTH_REQUIRED:github:repo\r', declared)).toEqual({
      provider: 'github',
      scopes: ['repo'],
    });
    expect(parseAuthRequiredLine('AUTH_REQUIRED:github\r', declared)).toEqual({
      provider: 'github',
      scopes: [],
    });
  });

  it('ignores a provider the manifest does not declare', () => {
    expect(parseAuthRequiredLine('AUTH_REQUIRED:dropbox:files', declared)).toBeNull();
    expect(parseAuthRequiredLine('AUTH_REQUIRED:google-calendar', new Set())).toBeNull();
  });

  it.each([
    ['text before the prefix', 'note: AUTH_REQUIRED:github'],
    ['leading space', ' AUTH_REQUIRED:github'],
    ['trailing space', 'AUTH_REQUIRED:github '],
    ['lowercase prefix', 'auth_required:github'],
    ['no provider', 'AUTH_REQUIRED:'],
    ['empty scope list', 'AUTH_REQUIRED:github:'],
    ['empty scope in the list', 'AUTH_REQUIRED:github:repo,,user'],
    ['trailing comma', 'AUTH_REQUIRED:github:repo,'],
    ['space in scopes', 'AUTH_REQUIRED:github:repo user'],
    ['uppercase provider', 'AUTH_REQUIRED:GitHub'],
    ['path-like provider', 'AUTH_REQUIRED:../github'],
    ['two lines in one', 'AUTH_REQUIRED:github\nAUTH_REQUIRED:github'],
    ['carriage return inside', 'AUTH_REQUIRED:git\rhub'],
    ['tab after the provider', 'AUTH_REQUIRED:github\t'],
    ['NUL in scopes', 'AUTH_REQUIRED:github:re\0po'],
  ])('treats a malformed line as ordinary output: %s', (_name, line) => {
    expect(parseAuthRequiredLine(line, declared)).toBeNull();
  });

  it('never finds a prompt in 100 random lines', () => {
    for (let index = 0; index < 100; index++) {
      const bytes = randomBytes(randomInt(1, 200));
      const variants = [
        bytes.toString('utf8'),
        bytes.toString('base64'),
        // Random text that starts like a prompt but names no declared provider.
        `AUTH_REQUIRED:${bytes.toString('hex').slice(0, randomInt(0, 40))}`,
        `${bytes.toString('latin1')}AUTH_REQUIRED:github`,
      ];
      for (const line of variants) expect(parseAuthRequiredLine(line, declared)).toBeNull();
    }
  });
});
