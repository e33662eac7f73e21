import { describe, expect, it } from 'vitest';
import { InvalidNameError } from '../../src/errors.js';
import {
  isOwnerId,
  isProviderName,
  validateOwnerId,
  validateProviderName,
  validateSkillName,
} from '../../src/names.js';

const REFUSED = [
  ['parent traversal', '../x'],
  ['a path', 'a/b'],
  ['a Windows path', 'a\\b'],
  ['empty', ''],
  ['65 characters', 'a'.repeat(65)],
  ['a newline', 'main\nevil'],
  ['a NUL byte', 'main\u0000'],
  ['an escape sequence', '\u001b[31mred'],
  ['the folder itself', '.'],
  ['the parent folder', '..'],
  ['a leading dot', '.hidden'],
  ['a leading dash (an option)', '-rf'],
  ['a space', 'a b'],
  ['not a string', 42],
  ['null', null],
] as const;

describe.each([
  ['owner id', validateOwnerId, isOwnerId, 'Main.User_1-x'],
  ['provider name', validateProviderName, isProviderName, 'google-calendar.v2_x'],
  ['skill name', validateSkillName, () => true, 'google-calendar'],
] as const)('%s', (kind, validate, is, good) => {
  it('accepts a name that matches the pattern, up to 64 characters', () => {
    expect(validate(good)).toBe(good);
    expect(validate('a'.repeat(64))).toBe('a'.repeat(64));
    expect(is(good)).toBe(true);
  });

  it.each(REFUSED)('refuses %s with a clear, safe message', (_label, value) => {
    let error: unknown;
    try {
      validate(value);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(InvalidNameError);
    const invalid = error as InvalidNameError;
    expect(invalid.code).toBe('INVALID_NAME');
    expect(invalid.message).toMatch(new RegExp(`^invalid ${kind} .+: use 1-64 `));
    // Control characters are shown escaped, never written raw to a terminal or a log.
    expect([...invalid.message].some((char) => char.charCodeAt(0) < 0x20)).toBe(false);
    if (kind !== 'skill name') expect(is(value)).toBe(false);
  });

  it('shortens a very long name in the message', () => {
    expect(() => validate('x'.repeat(500))).toThrow(/x{70}…/);
  });
});

describe('provider names', () => {
  it('are lowercase, owner ids are not', () => {
    expect(() => validateProviderName('Google')).toThrow(InvalidNameError);
    expect(validateOwnerId('Alice')).toBe('Alice');
  });
});
