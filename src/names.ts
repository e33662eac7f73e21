import { InvalidNameError, UsageError } from './errors.js';

/** Owner ids become folder names under data/tokens: a user or chat group. */
export const OWNER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Provider names become file names: `<provider>.json`. */
export const PROVIDER_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Skill names are folder names under skills/. */
export const SKILL_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** A scope as skills and hosts name it: visible ASCII without comma (URL scopes keep their colons). */
export const SCOPE_PATTERN = /^[\x21-\x2b\x2d-\x7e]+$/;
/** Run ids become container labels and go into events: lowercase UUIDs only. */
export const RUN_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const DEFAULT_OWNER = 'main';

function describeValue(value: unknown): string {
  if (typeof value !== 'string') return `a ${value === null ? 'null' : typeof value}`;
  if (value === '') return 'an empty string';
  const shown = value.length > 70 ? `${value.slice(0, 70)}…` : value;
  return JSON.stringify(shown);
}

function checkName(kind: string, pattern: RegExp, rule: string, value: unknown): string {
  // '.' and '..' match the character class but would name the folder itself or its parent.
  if (typeof value === 'string' && pattern.test(value) && value !== '.' && value !== '..') return value;
  throw new InvalidNameError(`invalid ${kind} ${describeValue(value)}: ${rule}`);
}

/** Validates an owner id wherever it enters (flags, HTTP, webhooks, folder names). */
export function validateOwnerId(value: unknown): string {
  return checkName(
    'owner id',
    OWNER_ID_PATTERN,
    'use 1-64 letters, digits, "_", "." or "-", starting with a letter or digit',
    value,
  );
}

/** Validates a provider name wherever it enters. */
export function validateProviderName(value: unknown): string {
  return checkName(
    'provider name',
    PROVIDER_NAME_PATTERN,
    'use 1-64 lowercase letters, digits, "_", "." or "-", starting with a letter or digit',
    value,
  );
}

/** Validates a skill name wherever it enters. */
export function validateSkillName(value: unknown): string {
  return checkName(
    'skill name',
    SKILL_NAME_PATTERN,
    'use 1-64 lowercase letters, digits, "_", "." or "-", starting with a letter or digit',
    value,
  );
}

export function isOwnerId(value: unknown): value is string {
  return typeof value === 'string' && OWNER_ID_PATTERN.test(value) && value !== '.' && value !== '..';
}

export function isProviderName(value: unknown): value is string {
  return typeof value === 'string' && PROVIDER_NAME_PATTERN.test(value) && value !== '.' && value !== '..';
}

/** Validates a run id a caller names before the container starts (the HTTP API). */
export function validateRunId(value: unknown): string {
  if (typeof value === 'string' && RUN_ID_PATTERN.test(value)) return value;
  throw new UsageError(`invalid run id ${describeValue(value)}: a run id must be a lowercase UUID`);
}
