import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { formatPath } from '../config/interpolate.js';
import type { SkillLimits } from '../config/skill-limits.js';
import { PROVIDER_NAME_PATTERN, SCOPE_PATTERN, SKILL_NAME_PATTERN } from '../names.js';
import { InvalidManifestError } from './sandbox-errors.js';

/** A provider a skill reads tokens for, with the scopes it needs. */
export interface SkillProvider {
  name: string;
  scopes: string[];
}

/** A validated `skills/<name>/skill.yaml`. */
export interface SkillManifest {
  name: string;
  description: string;
  /** null: the default skill image built from Dockerfile.skill. */
  image: string | null;
  /** Program and arguments, run without a shell. */
  command: string[];
  providers: SkillProvider[];
  timeoutSeconds: number;
  memoryBytes: number;
  pidsLimit: number;
  /** `bridge` only for skills that call an API; the host may still force `none`. */
  network: 'none' | 'bridge';
}

export const DEFAULT_TIMEOUT_SECONDS = 300;
export const DEFAULT_MEMORY = '256m';
export const DEFAULT_PIDS_LIMIT = 128;
/** Docker refuses memory limits below 6 MiB. */
const MIN_MEMORY_BYTES = 6 * 1024 * 1024;
const MAX_TIMEOUT_SECONDS = 24 * 60 * 60;

/** Aliases a manifest may expand in all (the yaml library's own default is 100). */
const MAX_ALIAS_COUNT = 50;

const MEMORY_PATTERN = /^(\d+)([bkmg]?)$/i;
const MEMORY_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
const IMAGE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._\-/:@]{0,254}$/;

/** "128m" -> bytes; null when it is not a size. */
export function parseMemorySize(text: string): number | null {
  const match = MEMORY_PATTERN.exec(text.trim());
  if (!match) return null;
  const bytes = Number(match[1]) * (MEMORY_UNITS[(match[2] ?? '').toLowerCase()] ?? 1);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

const notDots = (value: string) => value !== '.' && value !== '..';

const providerSchema = z.strictObject({
  name: z
    .string({ error: 'expected a provider name' })
    .regex(PROVIDER_NAME_PATTERN, {
      error: 'expected a provider name: 1-64 lowercase letters, digits, "_", "." or "-"',
    })
    .refine(notDots, { error: 'expected a provider name, not "." or ".."' }),
  scopes: z
    .array(
      z
        .string({ error: 'expected a string' })
        .regex(SCOPE_PATTERN, { error: 'expected a scope: visible characters, no comma or space' }),
      { error: 'expected an array of strings' },
    )
    .default([]),
});

const manifestSchema = z.strictObject({
  name: z
    .string({ error: 'expected a skill name' })
    .regex(SKILL_NAME_PATTERN, {
      error: 'expected a skill name: 1-64 lowercase letters, digits, "_", "." or "-"',
    })
    .refine(notDots, { error: 'expected a skill name, not "." or ".."' }),
  description: z.string({ error: 'expected a string' }).default(''),
  image: z
    .string({ error: 'expected an image name' })
    .regex(IMAGE_PATTERN, { error: 'expected an image name such as "nanoclaw-skill:latest"' })
    .optional(),
  command: z
    .array(
      z
        .string({ error: 'expected a string' })
        .min(1, { error: 'must not be empty' })
        .refine((value) => !value.includes('\0'), { error: 'must not contain NUL' }),
      { error: 'expected an array of strings (program and arguments)' },
    )
    .min(1, { error: 'expected at least the program to run' }),
  providers: z.array(providerSchema, { error: 'expected a list of providers' }).default([]),
  timeout: z
    .number({ error: 'expected a number of seconds' })
    .positive({ error: 'must be more than 0' })
    .max(MAX_TIMEOUT_SECONDS, { error: `must be at most ${MAX_TIMEOUT_SECONDS} seconds` })
    .default(DEFAULT_TIMEOUT_SECONDS),
  memory: z
    .string({ error: 'expected a size such as "128m"' })
    .refine((value) => parseMemorySize(value) !== null, { error: 'expected a size such as "128m"' })
    .refine((value) => (parseMemorySize(value) ?? 0) >= MIN_MEMORY_BYTES, {
      error: 'must be at least 6m',
    })
    .default(DEFAULT_MEMORY),
  pids: z
    .int({ error: 'expected a whole number' })
    .min(8, { error: 'must be at least 8' })
    .max(32768, { error: 'must be at most 32768' })
    .default(DEFAULT_PIDS_LIMIT),
  network: z.enum(['none', 'bridge'], { error: 'expected "none" or "bridge"' }).default('none'),
});

export type ManifestResult = { manifest: SkillManifest } | { errors: string[] };

/**
 * Checks a parsed skill.yaml value. `folderName` is the folder it sits in: the name must match it,
 * so a skill is always found, mounted and labelled under one name.
 */
export function validateSkillManifest(value: unknown, folderName: string): ManifestResult {
  const parsed = manifestSchema.safeParse(value ?? {});
  if (!parsed.success) {
    return { errors: parsed.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`) };
  }
  const file = parsed.data;
  const errors: string[] = [];
  if (file.name !== folderName) {
    errors.push(`name: must equal the skill's folder name "${folderName}"`);
  }
  const seen = new Set<string>();
  file.providers.forEach((provider, index) => {
    if (seen.has(provider.name)) {
      errors.push(`providers[${index}].name: provider "${provider.name}" is declared twice`);
    }
    seen.add(provider.name);
  });
  if (errors.length > 0) return { errors };
  return {
    manifest: {
      name: file.name,
      description: file.description,
      image: file.image ?? null,
      command: file.command,
      providers: file.providers.map((provider) => ({ name: provider.name, scopes: provider.scopes })),
      timeoutSeconds: file.timeout,
      memoryBytes: parseMemorySize(file.memory) ?? 0,
      pidsLimit: file.pids,
      network: file.network,
    },
  };
}

/** Parses skill.yaml text; throws `InvalidManifestError` (code INVALID_MANIFEST) with every problem. */
export function parseSkillManifest(
  text: string,
  options: { file: string; folderName: string },
): SkillManifest {
  let value: unknown;
  try {
    // A manifest has no use for aliases beyond a few; many of them is an expansion bomb.
    value = parseYaml(text, { uniqueKeys: true, maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    if (error instanceof YAMLParseError) {
      const position = error.linePos?.[0];
      const where = position ? `line ${position.line}, column ${position.col}` : '(root)';
      throw new InvalidManifestError(options.file, [`${where}: ${error.message.split('\n')[0]}`], {
        cause: error,
      });
    }
    // The parser's other refusals (too many aliases, too deep) are the file's fault too.
    const message = error instanceof Error ? error.message.split('\n')[0] : 'cannot be parsed';
    throw new InvalidManifestError(options.file, [`(root): ${message}`], { cause: error });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidManifestError(options.file, ['(root): expected a mapping of skill settings']);
  }
  const result = validateSkillManifest(value, options.folderName);
  if ('errors' in result) throw new InvalidManifestError(options.file, result.errors);
  return result.manifest;
}

/** How a size reads in a message: whole mebibytes when it is one. */
function formatSize(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / 1024 / 1024}m` : `${bytes}`;
}

/** `path: message` lines for each limit the manifest asks above the operator's maximum. */
export function checkSkillLimits(manifest: SkillManifest, limits: SkillLimits): string[] {
  const problems: string[] = [];
  if (manifest.timeoutSeconds > limits.timeoutSeconds) {
    problems.push(`timeout: must be at most ${limits.timeoutSeconds} seconds (sandbox.maxTimeout)`);
  }
  if (manifest.memoryBytes > limits.memoryBytes) {
    problems.push(`memory: must be at most ${formatSize(limits.memoryBytes)} (sandbox.maxMemory)`);
  }
  if (manifest.pidsLimit > limits.pids) {
    problems.push(`pids: must be at most ${limits.pids} (sandbox.maxPids)`);
  }
  return problems;
}
