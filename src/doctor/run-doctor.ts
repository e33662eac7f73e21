import path from 'node:path';
import type { LoadedConfig } from '../config/load-config.js';
import type { NanoclawConfig, NangoSettings } from '../config/types.js';
import { describeError } from '../errors.js';
import { fail, warn, type CheckResult } from './check-result.js';
import { checkBuiltinKey } from './checks/builtin-key-check.js';
import { checkBuiltinProvider, type DiscoverIssuer } from './checks/builtin-provider-check.js';
import { checkConfig } from './checks/config-check.js';
import { checkDataFolder, type ProcessIdentity } from './checks/data-folder-check.js';
import { checkDockerEngine, type DockerEngine } from './checks/docker-engine-check.js';
import { checkImages, imagesNotChecked, type SkillImageUse } from './checks/images-check.js';
import { checkNangoBrowserUrls } from './checks/nango-browser-urls-check.js';
import { checkNango } from './checks/nango-check.js';
import { checkSecretFiles, type SecretFile } from './checks/secret-files-check.js';
import type { SkillLimits } from '../config/skill-limits.js';
import { checkSkillManifests, type LoadedSkills } from './checks/skill-manifests-check.js';
import { checkTokenPermissions } from './checks/token-permissions-check.js';
import { checkWebhookSigningKey } from './checks/webhook-signing-key-check.js';
import { withTimeout } from './with-timeout.js';

/** Lists an owner's Nango connections; answers raw, the check validates. */
export type NangoConnectionLister = (endUserId: string, signal: AbortSignal) => Promise<unknown>;

/** Everything doctor touches outside itself, so tests can pass fakes. */
export interface DoctorDependencies {
  loadConfig(): Promise<LoadedConfig>;
  docker: DockerEngine;
  nango(settings: NangoSettings, timeoutMs: number): NangoConnectionLister;
  discoverIssuer: DiscoverIssuer;
  loadSkills(skillsDir: string, signal: AbortSignal, limits?: SkillLimits): Promise<LoadedSkills>;
  identity: ProcessIdentity;
  /** The group token files should carry, for this config; null when they keep the daemon's group. */
  tokenGroup(config: NanoclawConfig): number | null;
  /** Longest wait for any one network answer. */
  timeoutMs?: number;
}

export interface DoctorReport {
  checks: CheckResult[];
}

export const DEFAULT_CHECK_TIMEOUT_MS = 5_000;

/** Secret files under the data folder; only their modes are looked at. */
export function secretFilesIn(dataDir: string): SecretFile[] {
  return [
    { label: 'API token', path: path.join(dataDir, 'api-token') },
    { label: 'built-in store key', path: path.join(dataDir, 'builtin', 'key') },
  ];
}

/** Every engine call gives up after `timeoutMs`: a hung socket must not hang doctor. */
function limitEngine(engine: DockerEngine, timeoutMs: number): DockerEngine {
  return {
    ping: (signal) => withTimeout(signal, timeoutMs, (inner) => engine.ping(inner)),
    version: (signal) => withTimeout(signal, timeoutMs, (inner) => engine.version(inner)),
    imageExists: (image, signal) =>
      withTimeout(signal, timeoutMs, (inner) => engine.imageExists(image, inner)),
  };
}

/** A check that throws is itself a finding, never the end of the report. */
async function guard(name: string, run: () => Promise<CheckResult | CheckResult[]>): Promise<CheckResult[]> {
  try {
    const result = await run();
    return Array.isArray(result) ? result : [result];
  } catch (error) {
    const { code, message } = describeError(error);
    return [
      fail(
        name,
        `the check could not run: ${message} (${code})`,
        'fix what the message names, then run nanoclaw doctor again',
      ),
    ];
  }
}

/**
 * Runs every check: the configuration first (most checks need it), then the rest side by side.
 * When the configuration is invalid, what needs it is reported as not checked.
 */
export async function runDoctor(deps: DoctorDependencies, signal: AbortSignal): Promise<DoctorReport> {
  const timeoutMs = deps.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const { result: configResult, config } = await checkConfig(() => deps.loadConfig());

  const docker = limitEngine(deps.docker, timeoutMs);
  const engineGroup = guard('docker-engine', () => checkDockerEngine(docker, signal));

  if (config === null) {
    const skipped = [
      'base-image',
      'skill-image',
      'skill-manifests',
      'data-folder',
      'token-permissions',
      'secret-files',
      'token-source',
      'webhook-signing-key',
    ].map((name) => warn(name, 'not checked: the configuration is invalid', 'fix config first'));
    return { checks: [configResult, ...(await engineGroup), ...skipped] };
  }

  const skillsAndImages = (async (): Promise<CheckResult[]> => {
    let skillImages: SkillImageUse[] = [];
    const manifests = await guard('skill-manifests', async () => {
      const outcome = await checkSkillManifests(
        {
          skillsDir: config.skillsDir,
          configuredProviders: config.providers.map((provider) => provider.name),
          loadSkills: (skillsDir, loadSignal) =>
            deps.loadSkills(skillsDir, loadSignal, config.sandbox.limits),
        },
        signal,
      );
      skillImages = outcome.skillImages;
      return outcome.result;
    });
    const engine = await engineGroup;
    const images =
      engine[0]?.status === 'ok'
        ? await guard('skill-image', () =>
            checkImages({ engine: docker, sandbox: config.sandbox, skillImages }, signal),
          )
        : imagesNotChecked();
    return [...engine, ...images, ...manifests];
  })();

  const files = (async (): Promise<CheckResult[]> => [
    ...(await guard('data-folder', () => checkDataFolder(config.dataDir, deps.identity))),
    ...(await guard('token-permissions', () =>
      checkTokenPermissions({
        tokensDir: config.tokensDir,
        identity: deps.identity,
        tokenGroup: deps.tokenGroup(config),
      }),
    )),
    ...(await guard('secret-files', () => checkSecretFiles(secretFilesIn(config.dataDir)))),
  ])();

  const sources = Promise.all([
    ...(config.nango
      ? [
          guard('nango-source', () => {
            const nango = config.nango!;
            const list = deps.nango(nango, Math.min(nango.timeoutMs, timeoutMs));
            return checkNango(
              {
                settings: nango,
                listConnections: (inner) =>
                  withTimeout(inner, timeoutMs, (limited) => list(config.defaultOwner, limited)),
              },
              signal,
            );
          }),
        ]
      : []),
    ...(config.providers.some((provider) => provider.source === 'builtin')
      ? [
          guard('builtin-key', () =>
            checkBuiltinKey({ dataDir: config.dataDir, encryptionKey: config.builtin.encryptionKey }),
          ),
        ]
      : []),
    ...config.providers.flatMap((provider) =>
      provider.source === 'builtin'
        ? [
            guard(`builtin-source:${provider.name}`, () =>
              checkBuiltinProvider(
                provider,
                (issuer, inner) =>
                  withTimeout(inner, timeoutMs, (limited) => deps.discoverIssuer(issuer, limited)),
                signal,
              ),
            ),
          ]
        : [],
    ),
  ]).then((groups) => groups.flat());

  const [engineAndSkills, fileResults, sourceResults] = await Promise.all([skillsAndImages, files, sources]);
  const tokenSource =
    sourceResults.length === 0
      ? [
          warn(
            'token-source',
            'no providers and no Nango key are configured: there is nothing to sync',
            'add providers to nanoclaw.config.yaml (and NANGO_SECRET_KEY to serve them from Nango)',
          ),
        ]
      : sourceResults;
  return {
    checks: [
      configResult,
      ...engineAndSkills,
      ...fileResults,
      ...tokenSource,
      ...[checkNangoBrowserUrls(config.nango)].filter((result) => result !== null),
      checkWebhookSigningKey(config.nango),
    ],
  };
}
