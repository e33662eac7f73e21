import path from 'node:path';
import { DEFAULT_OWNER } from '../names.js';
import { configFileSchema, LOG_LEVELS, parseSize, type ConfigFile, type ProviderFile } from './schema.js';
import { DEFAULT_SKILL_LIMITS } from './skill-limits.js';
import { formatPath, interpolateEnvironment } from './interpolate.js';
import { BUILTIN_PRESETS } from './presets.js';
import type { BuiltinProviderConfig, NanoclawConfig, NangoSettings, ProviderConfig } from './types.js';

export type Environment = Readonly<Record<string, string | undefined>>;

export interface ResolveContext {
  env: Environment;
  cwd: string;
  /** The file the value came from; relative paths in it are taken from its folder. */
  configPath: string | null;
  /** Command-line flags (`serve --host/--port`): they win over the environment and the file. */
  overrides?: ConfigOverrides;
}

export interface ConfigOverrides {
  host?: string | undefined;
  port?: number | undefined;
}

export type ResolveResult = { config: NanoclawConfig; warnings: string[] } | { errors: string[] };

const DEFAULT_NANGO_HOST = 'https://api.nango.dev';

function envValue(env: Environment, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** An http(s) URL from the environment; the file's URLs are checked by the schema. */
function envUrl(env: Environment, name: string, errors: string[]): string | undefined {
  const value = envValue(env, name);
  if (value === undefined) return undefined;
  if (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol)) {
    errors.push(`${name}: expected an http(s) URL`);
    return undefined;
  }
  return value;
}

/**
 * Turns a parsed config file (or nothing) plus the environment into the typed config:
 * interpolate, check the shape, then apply defaults and the rules between fields.
 */
export function resolveConfig(fileValue: unknown, context: ResolveContext): ResolveResult {
  const { value, problems } = interpolateEnvironment(fileValue ?? {}, context.env);
  if (problems.length > 0) return { errors: problems };

  const parsed = configFileSchema.safeParse(value);
  if (!parsed.success) {
    return {
      errors: parsed.error.issues.flatMap((issue) =>
        // One line per unknown field, at its own path, like every other problem.
        issue.code === 'unrecognized_keys'
          ? issue.keys.map((key) => `${formatPath([...issue.path, key])}: unknown field`)
          : [`${formatPath(issue.path)}: ${issue.message}`],
      ),
    };
  }
  return normalizeConfig(parsed.data, context);
}

function normalizeConfig(file: ConfigFile, context: ResolveContext): ResolveResult {
  const { env, cwd } = context;
  const errors: string[] = [];
  const warnings: string[] = [];
  const fileBase = context.configPath ? path.dirname(context.configPath) : cwd;
  const fromFile = (value: string) => path.resolve(fileBase, value);
  const fromEnv = (value: string) => path.resolve(cwd, value);

  const dataDirEnv = envValue(env, 'NANOCLAW_DATA_DIR');
  const dataDir = dataDirEnv ? fromEnv(dataDirEnv) : fromFile(file.dataDir ?? 'data');
  const skillsDirEnv = envValue(env, 'NANOCLAW_SKILLS_DIR');
  const skillsDir = skillsDirEnv ? fromEnv(skillsDirEnv) : fromFile(file.skillsDir ?? 'skills');

  const nango = resolveNango(file, env, errors, warnings);
  const providers: ProviderConfig[] = [];
  const seen = new Set<string>();
  (file.providers ?? []).forEach((provider, index) => {
    const where = `providers[${index}]`;
    if (seen.has(provider.name)) errors.push(`${where}.name: provider "${provider.name}" is defined twice`);
    seen.add(provider.name);
    const resolved = resolveProvider(provider, where, nango !== null, errors);
    if (resolved) providers.push(resolved);
  });
  if (providers.some((provider) => provider.source === 'nango') && nango === null) {
    errors.push(
      'nango.secretKey: a provider uses the nango source but no Nango key is set (NANGO_SECRET_KEY)',
    );
  }

  const overrides = context.overrides ?? {};
  const host = overrides.host ?? envValue(env, 'NANOCLAW_HOST') ?? file.server?.host ?? '127.0.0.1';
  const portText = envValue(env, 'NANOCLAW_PORT');
  let port = file.server?.port ?? 3000;
  if (portText !== undefined) {
    const parsedPort = Number(portText);
    if (!Number.isInteger(parsedPort) || parsedPort < 0 || parsedPort > 65535) {
      errors.push('NANOCLAW_PORT: expected a port number');
    } else port = parsedPort;
  }
  if (overrides.port !== undefined) port = overrides.port;
  const publicUrl =
    envUrl(env, 'NANOCLAW_PUBLIC_URL', errors) ?? file.server?.publicUrl ?? defaultPublicUrl(host, port);

  const daemonUrl = envUrl(env, 'NANOCLAW_URL', errors) ?? null;

  const logLevelEnv = envValue(env, 'NANOCLAW_LOG_LEVEL');
  if (logLevelEnv !== undefined && !(LOG_LEVELS as readonly string[]).includes(logLevelEnv)) {
    errors.push(`NANOCLAW_LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}`);
  }

  const networkEnv = envValue(env, 'NANOCLAW_SANDBOX_NETWORK');
  if (networkEnv !== undefined && networkEnv !== 'none' && networkEnv !== 'manifest') {
    errors.push('NANOCLAW_SANDBOX_NETWORK: expected "manifest" or "none"');
  }

  const storeUrl = envValue(env, 'NANOCLAW_DATABASE_URL') ?? file.store?.url ?? null;
  if (storeUrl !== null && !isDatabaseUrl(storeUrl)) {
    // The value may hold a password: the message names the setting, never the value.
    errors.push(
      `${envValue(env, 'NANOCLAW_DATABASE_URL') !== undefined ? 'NANOCLAW_DATABASE_URL' : 'store.url'}: expected a postgres:// or postgresql:// URL`,
    );
  }
  const owners = [...new Set(file.owners ?? [])];
  const defaultOwner = file.owner ?? DEFAULT_OWNER;

  if (errors.length > 0) return { errors };
  return {
    warnings,
    config: {
      configPath: context.configPath,
      dataDir,
      tokensDir: path.join(dataDir, 'tokens'),
      skillsDir,
      defaultOwner,
      owners,
      logLevel: logLevelEnv ?? file.logLevel ?? 'warn',
      refresh: {
        marginMs: (file.refresh?.margin ?? 300) * 1000,
        maxAgeMs: (file.refresh?.maxAge ?? 300) * 1000,
        concurrency: file.refresh?.concurrency ?? 10,
      },
      nango,
      server: {
        host,
        port,
        publicUrl: publicUrl.replace(/\/+$/, ''),
        apiToken: envValue(env, 'NANOCLAW_API_TOKEN') ?? null,
        daemonUrl: daemonUrl?.replace(/\/+$/, '') ?? null,
      },
      sandbox: {
        image: file.sandbox?.image ?? 'nanoclaw-skill:latest',
        baseImage: envValue(env, 'NANOCLAW_BASE_IMAGE') ?? file.sandbox?.baseImage ?? 'python:3.12-slim',
        network: (networkEnv as 'none' | 'manifest' | undefined) ?? file.sandbox?.network ?? 'manifest',
        tokenGroup: file.sandbox?.tokenGroup ?? null,
        limits: {
          memoryBytes: parseSize(file.sandbox?.maxMemory ?? '') ?? DEFAULT_SKILL_LIMITS.memoryBytes,
          pids: file.sandbox?.maxPids ?? DEFAULT_SKILL_LIMITS.pids,
          timeoutSeconds: file.sandbox?.maxTimeout ?? DEFAULT_SKILL_LIMITS.timeoutSeconds,
          cpus: file.sandbox?.cpus ?? DEFAULT_SKILL_LIMITS.cpus,
        },
      },
      builtin: {
        encryptionKey: envValue(env, 'NANOCLAW_ENCRYPTION_KEY') ?? file.builtin?.encryptionKey ?? null,
        ...(file.builtin?.refreshLease !== undefined
          ? { refreshLeaseMs: file.builtin.refreshLease * 1000 }
          : {}),
      },
      store: { url: storeUrl },
      providers,
    },
  };
}

function defaultPublicUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}

function resolveNango(
  file: ConfigFile,
  env: Environment,
  errors: string[],
  warnings: string[],
): NangoSettings | null {
  const secretKey = envValue(env, 'NANGO_SECRET_KEY') ?? file.nango?.secretKey;
  const host = (envUrl(env, 'NANGO_HOST', errors) ?? file.nango?.host ?? DEFAULT_NANGO_HOST).replace(
    /\/+$/,
    '',
  );
  const connectBaseUrl = envUrl(env, 'NANGO_CONNECT_URL', errors) ?? file.nango?.connectBaseUrl ?? null;
  if (!secretKey) return null;
  const hostUrl = new URL(host);
  if (hostUrl.protocol === 'http:' && !isLoopbackHost(hostUrl.hostname)) {
    // Self-hosted Nango on a private network is common; say loudly that the key travels in clear text.
    warnings.push(`nango.host: ${hostUrl.origin} uses plain http: the secret key is sent unencrypted`);
  }
  return {
    host,
    secretKey,
    webhookSigningKey: envValue(env, 'NANGO_WEBHOOK_SIGNING_KEY') ?? file.nango?.webhookSigningKey ?? null,
    connectBaseUrl,
    connectApiUrl: envUrl(env, 'NANGO_CONNECT_API_URL', errors) ?? file.nango?.connectApiUrl ?? null,
    timeoutMs: (file.nango?.timeout ?? 10) * 1000,
  };
}

const BUILTIN_ONLY_FIELDS = [
  'preset',
  'grant',
  'issuer',
  'authorizationUrl',
  'tokenUrl',
  'revocationUrl',
  'clientId',
  'clientSecret',
  'pkce',
  'authorizationParams',
  'tokenEndpointAuthMethod',
  'dialect',
] as const;

function resolveProvider(
  provider: ProviderFile,
  where: string,
  nangoConfigured: boolean,
  errors: string[],
): ProviderConfig | null {
  const source = provider.source ?? (nangoConfigured ? 'nango' : 'builtin');
  const base = {
    name: provider.name,
    scopes: provider.scopes ?? [],
    exposeRefreshToken: provider.exposeRefreshToken ?? false,
  };

  if (source === 'nango') {
    for (const field of BUILTIN_ONLY_FIELDS) {
      if (provider[field] !== undefined) errors.push(`${where}.${field}: only applies to the builtin source`);
    }
    return {
      ...base,
      source,
      integration: provider.integration ?? provider.name,
      connections: provider.connections ?? {},
    };
  }

  if (provider.source === undefined && !BUILTIN_ONLY_FIELDS.some((field) => provider[field] !== undefined)) {
    errors.push(
      `${where}: no token source for "${provider.name}": set NANGO_SECRET_KEY to serve it from Nango, ` +
        'or give it a builtin OAuth client (clientId and issuer, or a preset)',
    );
    return null;
  }
  if (provider.connections !== undefined)
    errors.push(`${where}.connections: only applies to the nango source`);
  if (provider.integration !== undefined)
    errors.push(`${where}.integration: only applies to the nango source`);
  const merged: ProviderFile = {
    ...(provider.preset ? BUILTIN_PRESETS[provider.preset] : {}),
    ...provider,
    authorizationParams: {
      ...(provider.preset ? BUILTIN_PRESETS[provider.preset].authorizationParams : {}),
      ...provider.authorizationParams,
    },
  };
  const grant = merged.grant ?? 'authorization_code';
  const before = errors.length;
  if (!merged.clientId) {
    errors.push(`${where}.clientId: required for the builtin source`);
  }
  if (grant === 'authorization_code' && !merged.issuer && !(merged.authorizationUrl && merged.tokenUrl)) {
    errors.push(`${where}.issuer: give an issuer (OIDC discovery) or both authorizationUrl and tokenUrl`);
  }
  if (grant === 'client_credentials') {
    if (!merged.issuer && !merged.tokenUrl) errors.push(`${where}.tokenUrl: give an issuer or a tokenUrl`);
    if (!merged.clientSecret) errors.push(`${where}.clientSecret: required for the client_credentials grant`);
    if (merged.dialect === 'lark') {
      errors.push(
        `${where}.grant: Lark's user OAuth has no client_credentials grant (use authorization_code)`,
      );
    }
  }
  if (merged.dialect === 'lark' && merged.tokenEndpointAuthMethod === 'client_secret_basic') {
    errors.push(
      `${where}.tokenEndpointAuthMethod: Lark takes the client secret in the request body (client_secret_post)`,
    );
  }
  for (const field of ['issuer', 'authorizationUrl', 'tokenUrl', 'revocationUrl'] as const) {
    const value = merged[field];
    if (value !== undefined && !isSecureUrl(value)) {
      errors.push(`${where}.${field}: must use https (plain http is allowed only on loopback)`);
    }
  }
  if (errors.length > before) return null;

  const resolved: BuiltinProviderConfig = {
    ...base,
    source: 'builtin',
    grant,
    issuer: merged.issuer ?? null,
    authorizationUrl: merged.authorizationUrl ?? null,
    tokenUrl: merged.tokenUrl ?? null,
    revocationUrl: merged.revocationUrl ?? null,
    clientId: merged.clientId!,
    clientSecret: merged.clientSecret ?? null,
    pkce: merged.pkce ?? true,
    authorizationParams: merged.authorizationParams ?? {},
    tokenEndpointAuthMethod:
      merged.tokenEndpointAuthMethod ?? (merged.clientSecret ? 'client_secret_basic' : 'none'),
    dialect: merged.dialect ?? 'oauth2',
  };
  return resolved;
}

/** https anywhere; http only to this machine (RFC 8252 loopback), never through config to elsewhere. */
export function isSecureUrl(value: string): boolean {
  const url = new URL(value);
  if (url.protocol === 'https:') return true;
  if (url.protocol !== 'http:') return false;
  return isLoopbackHost(url.hostname);
}

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** True for a `postgres://` or `postgresql://` URL with a host. */
function isDatabaseUrl(url: string): boolean {
  try {
    const { protocol, host } = new URL(url);
    return (protocol === 'postgres:' || protocol === 'postgresql:') && host !== '';
  } catch {
    return false;
  }
}
