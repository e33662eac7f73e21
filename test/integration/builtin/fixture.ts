import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import type { ProviderFile } from '../../../src/config/schema.js';
import { resolveConfig } from '../../../src/config/resolve-config.js';
import type { BuiltinProviderConfig, NanoclawConfig } from '../../../src/config/types.js';
import { demoProviderEntries } from '../../../src/demo/demo-providers.js';
import { BuiltinSource, type BuiltinSourceOptions } from '../../../src/sources/builtin/builtin-source.js';
import { builtinCallbackUrl } from '../../../src/sources/builtin/builtin-urls.js';
import { CredentialStore } from '../../../src/sources/builtin/credential-store.js';
import { newBrowserBinding } from '../../../src/sources/builtin/pending-authorizations.js';
import { authorizeHeadless, type CookieJar, type DemoOAuthServer } from '../../support/oidc-server.js';

/** The daemon's public URL in these tests: only ever used to build redirect URIs, never contacted. */
export const PUBLIC_URL = 'http://127.0.0.1:3999';
export const DEMO_CALLBACK = builtinCallbackUrl(PUBLIC_URL, 'demo');
export const NEVER = new AbortController().signal;

export async function temporaryDataDir(): Promise<{ dir: string; [Symbol.asyncDispose](): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-builtin-'));
  return { dir, [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }) };
}

export interface ConfigOptions {
  dataDir: string;
  encryptionKey?: string;
  providers?: ProviderFile[];
  marginSeconds?: number;
}

/** The configuration a user would write for the demo server, through the real validation. */
export function demoConfig(server: DemoOAuthServer, options: ConfigOptions): NanoclawConfig {
  const result = resolveConfig(
    {
      providers: options.providers ?? demoProviderEntries(server),
      refresh: { margin: options.marginSeconds ?? 300 },
    },
    {
      env: {
        NANOCLAW_DATA_DIR: options.dataDir,
        NANOCLAW_PUBLIC_URL: PUBLIC_URL,
        NANOCLAW_ENCRYPTION_KEY: options.encryptionKey,
      },
      cwd: options.dataDir,
      configPath: null,
    },
  );
  if ('errors' in result) throw new Error(result.errors.join('\n'));
  return result.config;
}

export function builtinProvider(config: NanoclawConfig, name: string): BuiltinProviderConfig {
  const provider = config.providers.find((candidate) => candidate.name === name);
  if (provider?.source !== 'builtin') throw new Error(`no builtin provider ${name}`);
  return provider;
}

/** A source over the config, as create-sources builds it, with test knobs. */
export function builtinSource(
  config: NanoclawConfig,
  options: Partial<BuiltinSourceOptions> = {},
): BuiltinSource {
  return new BuiltinSource({
    store: CredentialStore.inDataDir(config.dataDir, config.builtin.encryptionKey),
    providers: config.providers.filter(
      (provider): provider is BuiltinProviderConfig => provider.source === 'builtin',
    ),
    publicUrl: config.server.publicUrl,
    refreshMarginMs: config.refresh.marginMs,
    ...options,
  });
}

export interface BrowserVisit {
  callback: URL;
  browserBinding: string;
}

/** Starts an authorization and walks it in a headless browser up to the redirect back to us. */
export async function authorizeInBrowser(
  source: BuiltinSource,
  options: { owner: string; answer?: 'allow' | 'deny'; browserBinding?: string; jar?: CookieJar },
): Promise<BrowserVisit> {
  const browserBinding = options.browserBinding ?? newBrowserBinding();
  const { redirectUrl } = await source.beginAuthorization({
    owner: options.owner,
    provider: 'demo',
    browserBinding,
    signal: NEVER,
  });
  const callback = await authorizeHeadless(redirectUrl, {
    answer: options.answer ?? 'allow',
    callbackUrl: DEMO_CALLBACK,
    jar: options.jar,
  });
  return { callback, browserBinding };
}

/** Connects an owner end to end: start, consent, callback. */
export async function connectOwner(source: BuiltinSource, owner: string): Promise<void> {
  const visit = await authorizeInBrowser(source, { owner });
  await source.completeAuthorization({
    provider: 'demo',
    query: visit.callback.searchParams,
    browserBinding: visit.browserBinding,
    signal: NEVER,
  });
}

/** No secret may appear in messages, reasons or serialised errors. */
export function expectNoSecrets(
  texts: readonly unknown[],
  secrets: readonly (string | null | undefined)[],
): void {
  const haystack = texts.map((text) => (typeof text === 'string' ? text : JSON.stringify(text))).join('\n');
  for (const secret of secrets) {
    if (!secret) continue;
    expect(haystack.includes(secret), 'a secret leaked into a message').toBe(false);
  }
}

/** Grabs a thrown error (or fails the test when nothing was thrown). */
export async function thrown(work: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await work;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected an error');
}
