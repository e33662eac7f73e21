import { z } from 'zod';
import { OWNER_ID_PATTERN, PROVIDER_NAME_PATTERN } from '../names.js';

const ownerId = z
  .string()
  .regex(OWNER_ID_PATTERN, { error: 'expected an owner id: 1-64 letters, digits, "_", "." or "-"' })
  .refine((value) => value !== '.' && value !== '..', { error: 'expected an owner id, not "." or ".."' });
const providerName = z
  .string({ error: 'expected a provider name' })
  .regex(PROVIDER_NAME_PATTERN, {
    error: 'expected a provider name: 1-64 lowercase letters, digits, "_", "." or "-"',
  })
  .refine((value) => value !== '.' && value !== '..', { error: 'expected a provider name, not "." or ".."' });
/**
 * `${VAR}` interpolation always yields text, so `port: ${PORT}` arrives as "3000": numbers and
 * booleans written as plain text are read back as what they say.
 */
function numeric<T extends z.ZodType>(schema: T) {
  return z.preprocess(
    (value) => (typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value),
    schema,
  );
}
function boolean() {
  return z.preprocess(
    (value) => (value === 'true' ? true : value === 'false' ? false : value),
    z.boolean({ error: 'expected true or false' }),
  );
}

const nonEmpty = z.string({ error: 'expected a string' }).min(1, { error: 'must not be empty' });
const url = z.url({ error: 'expected an absolute URL' });
const seconds = numeric(
  z.number({ error: 'expected a number of seconds' }).nonnegative({ error: 'must not be negative' }),
);
// An HTTP client given a timeout of 0 waits forever.
const positiveSeconds = numeric(
  z.number({ error: 'expected a number of seconds' }).positive({ error: 'must be more than 0' }),
);
const httpUrl = url.refine((value) => /^https?:\/\//i.test(value), { error: 'expected an http(s) URL' });

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const stringArray = z.array(z.string({ error: 'expected a string' }), {
  error: 'expected an array of strings',
});

export const providerFileSchema = z.strictObject({
  name: providerName,
  source: z.enum(['nango', 'builtin'], { error: 'expected "nango" or "builtin"' }).optional(),
  scopes: stringArray.optional(),
  exposeRefreshToken: boolean().optional(),
  // Nango
  integration: nonEmpty.optional(),
  connections: z
    .record(ownerId, nonEmpty, { error: 'expected a map of owner id to connection id' })
    .optional(),
  // Built-in OAuth 2.0 client
  preset: z
    .enum(['google', 'github', 'lark', 'feishu'], {
      error: 'expected "google", "github", "lark" or "feishu"',
    })
    .optional(),
  /** How token requests and answers are shaped: standard OAuth 2.0, or Lark's v2 token endpoint. */
  dialect: z.enum(['oauth2', 'lark'], { error: 'expected "oauth2" or "lark"' }).optional(),
  grant: z
    .enum(['authorization_code', 'client_credentials'], {
      error: 'expected "authorization_code" or "client_credentials"',
    })
    .optional(),
  issuer: url.optional(),
  authorizationUrl: url.optional(),
  tokenUrl: url.optional(),
  revocationUrl: url.optional(),
  clientId: nonEmpty.optional(),
  clientSecret: nonEmpty.optional(),
  pkce: boolean().optional(),
  authorizationParams: z.record(z.string(), z.string(), { error: 'expected a map of strings' }).optional(),
  tokenEndpointAuthMethod: z
    .enum(['client_secret_basic', 'client_secret_post', 'none'], {
      error: 'expected "client_secret_basic", "client_secret_post" or "none"',
    })
    .optional(),
});

export const configFileSchema = z.strictObject({
  owner: ownerId.optional(),
  owners: z.array(ownerId, { error: 'expected an array of owner ids' }).optional(),
  dataDir: nonEmpty.optional(),
  skillsDir: nonEmpty.optional(),
  logLevel: z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` }).optional(),
  refresh: z
    .strictObject({
      margin: seconds.optional(),
      maxAge: seconds.optional(),
      concurrency: numeric(
        z
          .int({ error: 'expected a whole number' })
          .min(1, { error: 'must be at least 1' })
          .max(256, { error: 'must be at most 256' }),
      ).optional(),
    })
    .optional(),
  nango: z
    .strictObject({
      host: httpUrl.optional(),
      secretKey: nonEmpty.optional(),
      webhookSigningKey: nonEmpty.optional(),
      connectBaseUrl: url.optional(),
      connectApiUrl: url.optional(),
      timeout: positiveSeconds.optional(),
    })
    .optional(),
  server: z
    .strictObject({
      host: nonEmpty.optional(),
      port: numeric(z.int({ error: 'expected a port number' }).min(0).max(65535)).optional(),
      publicUrl: url.optional(),
    })
    .optional(),
  sandbox: z
    .strictObject({
      image: nonEmpty.optional(),
      baseImage: nonEmpty.optional(),
      network: z.enum(['manifest', 'none'], { error: 'expected "manifest" or "none"' }).optional(),
      tokenGroup: numeric(z.int({ error: 'expected a group id' }).min(0)).optional(),
    })
    .optional(),
  builtin: z
    .strictObject({
      encryptionKey: nonEmpty.optional(),
    })
    .optional(),
  store: z
    .strictObject({
      url: nonEmpty.optional(),
    })
    .optional(),
  providers: z.array(providerFileSchema, { error: 'expected a list of providers' }).optional(),
});

export type ConfigFile = z.infer<typeof configFileSchema>;
export type ProviderFile = z.infer<typeof providerFileSchema>;
