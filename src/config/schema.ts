// Zod's tree-shakable form: every command reads the configuration, and the full form takes longer to
// load than the rest of a `nanoclaw status`.
import en from 'zod/v4/locales/en.js';
import * as z from 'zod/mini';
import { OWNER_ID_PATTERN, PROVIDER_NAME_PATTERN } from '../names.js';

// Messages for the checks without our own (a port out of range, an unknown field), as the full form has.
z.config(en());
// A command checks one file once: compiling a parser for it (Zod's default) costs more than it saves.
z.config({ jitless: true });

const ownerId = z.string().check(
  z.regex(OWNER_ID_PATTERN, { error: 'expected an owner id: 1-64 letters, digits, "_", "." or "-"' }),
  z.refine((value) => value !== '.' && value !== '..', { error: 'expected an owner id, not "." or ".."' }),
);
const providerName = z.string({ error: 'expected a provider name' }).check(
  z.regex(PROVIDER_NAME_PATTERN, {
    error: 'expected a provider name: 1-64 lowercase letters, digits, "_", "." or "-"',
  }),
  z.refine((value) => value !== '.' && value !== '..', {
    error: 'expected a provider name, not "." or ".."',
  }),
);
/**
 * `${VAR}` interpolation always yields text, so `port: ${PORT}` arrives as "3000": numbers and
 * booleans written as plain text are read back as what they say.
 */
function numeric<T extends z.ZodMiniType>(schema: T) {
  return z.pipe(
    z.transform((value: unknown) =>
      typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value,
    ),
    schema,
  );
}
function boolean() {
  return z.pipe(
    z.transform((value: unknown) => (value === 'true' ? true : value === 'false' ? false : value)),
    z.boolean({ error: 'expected true or false' }),
  );
}

const SIZE_PATTERN = /^(\d+)([bkmg]?)$/i;
const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** "2g" -> bytes; null when it is not a size. */
export function parseSize(text: string): number | null {
  const match = SIZE_PATTERN.exec(text.trim());
  if (!match) return null;
  const bytes = Number(match[1]) * (SIZE_UNITS[(match[2] ?? '').toLowerCase()] ?? 1);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : null;
}

const nonEmpty = z
  .string({ error: 'expected a string' })
  .check(z.minLength(1, { error: 'must not be empty' }));
const url = z.url({ error: 'expected an absolute URL' });
const seconds = numeric(
  z.number({ error: 'expected a number of seconds' }).check(z.nonnegative({ error: 'must not be negative' })),
);
// An HTTP client given a timeout of 0 waits forever.
const positiveSeconds = numeric(
  z.number({ error: 'expected a number of seconds' }).check(z.positive({ error: 'must be more than 0' })),
);
const httpUrl = z
  .url({ error: 'expected an absolute URL' })
  .check(z.refine((value) => /^https?:\/\//i.test(value), { error: 'expected an http(s) URL' }));

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const stringArray = z.array(z.string({ error: 'expected a string' }), {
  error: 'expected an array of strings',
});

export const providerFileSchema = z.strictObject({
  name: providerName,
  source: z.optional(z.enum(['nango', 'builtin'], { error: 'expected "nango" or "builtin"' })),
  scopes: z.optional(stringArray),
  exposeRefreshToken: z.optional(boolean()),
  // Nango
  integration: z.optional(nonEmpty),
  connections: z.optional(
    z.record(ownerId, nonEmpty, { error: 'expected a map of owner id to connection id' }),
  ),
  // Built-in OAuth 2.0 client
  preset: z.optional(
    z.enum(['google', 'github', 'lark', 'feishu'], {
      error: 'expected "google", "github", "lark" or "feishu"',
    }),
  ),
  /** How token requests and answers are shaped: standard OAuth 2.0, or Lark's v2 token endpoint. */
  dialect: z.optional(z.enum(['oauth2', 'lark'], { error: 'expected "oauth2" or "lark"' })),
  grant: z.optional(
    z.enum(['authorization_code', 'client_credentials'], {
      error: 'expected "authorization_code" or "client_credentials"',
    }),
  ),
  issuer: z.optional(url),
  authorizationUrl: z.optional(url),
  tokenUrl: z.optional(url),
  revocationUrl: z.optional(url),
  clientId: z.optional(nonEmpty),
  clientSecret: z.optional(nonEmpty),
  pkce: z.optional(boolean()),
  authorizationParams: z.optional(z.record(z.string(), z.string(), { error: 'expected a map of strings' })),
  tokenEndpointAuthMethod: z.optional(
    z.enum(['client_secret_basic', 'client_secret_post', 'none'], {
      error: 'expected "client_secret_basic", "client_secret_post" or "none"',
    }),
  ),
});

export const configFileSchema = z.strictObject({
  owner: z.optional(ownerId),
  owners: z.optional(z.array(ownerId, { error: 'expected an array of owner ids' })),
  dataDir: z.optional(nonEmpty),
  skillsDir: z.optional(nonEmpty),
  logLevel: z.optional(z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` })),
  refresh: z.optional(
    z.strictObject({
      margin: z.optional(seconds),
      maxAge: z.optional(seconds),
      concurrency: z.optional(
        numeric(
          z
            .int({ error: 'expected a whole number' })
            .check(
              z.minimum(1, { error: 'must be at least 1' }),
              z.maximum(256, { error: 'must be at most 256' }),
            ),
        ),
      ),
    }),
  ),
  nango: z.optional(
    z.strictObject({
      host: z.optional(httpUrl),
      secretKey: z.optional(nonEmpty),
      webhookSigningKey: z.optional(nonEmpty),
      connectBaseUrl: z.optional(url),
      connectApiUrl: z.optional(url),
      timeout: z.optional(positiveSeconds),
    }),
  ),
  server: z.optional(
    z.strictObject({
      host: z.optional(nonEmpty),
      port: z.optional(
        numeric(z.int({ error: 'expected a port number' }).check(z.minimum(0), z.maximum(65535))),
      ),
      publicUrl: z.optional(url),
    }),
  ),
  sandbox: z.optional(
    z.strictObject({
      image: z.optional(nonEmpty),
      baseImage: z.optional(nonEmpty),
      network: z.optional(z.enum(['manifest', 'none'], { error: 'expected "manifest" or "none"' })),
      tokenGroup: z.optional(numeric(z.int({ error: 'expected a group id' }).check(z.minimum(0)))),
      maxMemory: z.optional(
        z
          .string({ error: 'expected a size such as "2g"' })
          .check(z.refine((value) => parseSize(value) !== null, { error: 'expected a size such as "2g"' })),
      ),
      maxPids: z.optional(
        numeric(
          z
            .int({ error: 'expected a whole number' })
            .check(
              z.minimum(8, { error: 'must be at least 8' }),
              z.maximum(32768, { error: 'must be at most 32768' }),
            ),
        ),
      ),
      maxTimeout: z.optional(positiveSeconds),
      cpus: z.optional(
        numeric(
          z
            .number({ error: 'expected a number of CPUs' })
            .check(z.positive({ error: 'must be more than 0' })),
        ),
      ),
    }),
  ),
  store: z.optional(
    z.strictObject({
      url: z.optional(nonEmpty),
    }),
  ),
  builtin: z.optional(
    z.strictObject({
      encryptionKey: z.optional(nonEmpty),
      refreshLease: z.optional(positiveSeconds),
    }),
  ),
  providers: z.optional(z.array(providerFileSchema, { error: 'expected a list of providers' })),
});

export type ConfigFile = z.infer<typeof configFileSchema>;
export type ProviderFile = z.infer<typeof providerFileSchema>;
