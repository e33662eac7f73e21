import { z } from 'zod';
import { OWNER_ID_PATTERN, PROVIDER_NAME_PATTERN, SKILL_NAME_PATTERN } from '../../names.js';

const notDots = (value: string) => value !== '.' && value !== '..';

/** Owner ids, provider and skill names as they enter over HTTP: the same rules as src/names.ts. */
export const ownerId = z
  .string({ error: 'expected an owner id' })
  .regex(OWNER_ID_PATTERN, { error: 'expected an owner id: 1-64 letters, digits, "_", "." or "-"' })
  .refine(notDots, { error: 'expected an owner id, not "." or ".."' });

export const providerName = z
  .string({ error: 'expected a provider name' })
  .regex(PROVIDER_NAME_PATTERN, {
    error: 'expected a provider name: 1-64 lowercase letters, digits, "_", "." or "-"',
  })
  .refine(notDots, { error: 'expected a provider name, not "." or ".."' });

export const skillName = z
  .string({ error: 'expected a skill name' })
  .regex(SKILL_NAME_PATTERN, {
    error: 'expected a skill name: 1-64 lowercase letters, digits, "_", "." or "-"',
  })
  .refine(notDots, { error: 'expected a skill name, not "." or ".."' });

export const ownerAndProvider = z.strictObject({ owner: ownerId, provider: providerName });

/** A path on this server (never another origin: no `//host`, no backslash tricks) to go on to. */
export const localPath = z
  .string()
  .max(1024)
  // Visible ASCII only: anything else cannot go into a Location header (and could disguise a host).
  .regex(/^\/(?![/\\])[\x21-\x5b\x5d-\x7e]*$/, { error: 'expected a path on this server' });
