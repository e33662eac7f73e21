import type { SkillLimits } from './skill-limits.js';

/** The validated configuration: every path absolute, every default applied, every source resolved. */
export interface NanoclawConfig {
  configPath: string | null;
  dataDir: string;
  tokensDir: string;
  skillsDir: string;
  defaultOwner: string;
  /** Owners named in the config; owners with a token folder are found on disk as well. */
  owners: string[];
  logLevel: string;
  refresh: RefreshSettings;
  nango: NangoSettings | null;
  server: ServerSettings;
  sandbox: SandboxSettings;
  builtin: BuiltinSettings;
  store: StoreSettings;
  providers: ProviderConfig[];
}

export interface RefreshSettings {
  /** Refresh a token this long before it expires. */
  marginMs: number;
  /** Ask the source again once a file has not been checked for this long (Nango: at most 5 minutes). */
  maxAgeMs: number;
  /** How many source requests run at once. */
  concurrency: number;
}

export interface NangoSettings {
  host: string;
  secretKey: string;
  webhookSigningKey: string | null;
  /** Connect UI and API URLs for the page's `openConnectUI` (a self-hosted Nango). */
  connectBaseUrl: string | null;
  connectApiUrl: string | null;
  timeoutMs: number;
}

export interface ServerSettings {
  host: string;
  port: number;
  /** The URL people and OAuth providers reach the daemon at. */
  publicUrl: string;
  apiToken: string | null;
  /** A running daemon that clients such as `nanoclaw relay` post to (NANOCLAW_URL); null: none. */
  daemonUrl: string | null;
}

export interface SandboxSettings {
  /** The default skill image, built from Dockerfile.skill. */
  image: string;
  /** BASE_IMAGE for Dockerfile.skill. */
  baseImage: string;
  /** `none` forces every container onto no network (CI, tests). */
  network: 'manifest' | 'none';
  /** Group that token folders and files belong to, so the container's user can read them. */
  tokenGroup: number | null;
  /** Maximums for a skill's limits; a manifest asking for more is refused. */
  limits: SkillLimits;
}

export interface StoreSettings {
  /**
   * PostgreSQL shared by many hosts (`NANOCLAW_DATABASE_URL` or `store.url`); null: files under the
   * data folder (one host). It may hold a password: it is never logged or put in a message.
   */
  url: string | null;
}

export interface BuiltinSettings {
  encryptionKey: string | null;
  /**
   * How long a refresh sent by another host (or process), with no answer stored yet, keeps its refresh
   * token from being sent again. Absent: 30 s.
   */
  refreshLeaseMs?: number;
}

interface ProviderBase {
  name: string;
  scopes: string[];
  /** Write refresh_token into the token file (off: a skill holding a rotating refresh token can break the grant). */
  exposeRefreshToken: boolean;
}

export interface NangoProviderConfig extends ProviderBase {
  source: 'nango';
  /** Nango integration id (provider config key). */
  integration: string;
  /** Fixed connection id per owner. */
  connections: Record<string, string>;
}

export interface BuiltinProviderConfig extends ProviderBase {
  source: 'builtin';
  grant: 'authorization_code' | 'client_credentials';
  issuer: string | null;
  authorizationUrl: string | null;
  tokenUrl: string | null;
  revocationUrl: string | null;
  clientId: string;
  clientSecret: string | null;
  pkce: boolean;
  authorizationParams: Record<string, string>;
  tokenEndpointAuthMethod: 'client_secret_basic' | 'client_secret_post' | 'none';
  /**
   * How token requests and answers are shaped: `oauth2` (RFC 6749, form body) or `lark` (Lark's v2
   * token endpoint: JSON body, `code` in the answer, numeric error codes). Absent means `oauth2`.
   */
  dialect?: 'oauth2' | 'lark';
}

export type ProviderConfig = NangoProviderConfig | BuiltinProviderConfig;
export type TokenSourceKind = ProviderConfig['source'];
