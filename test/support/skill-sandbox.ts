import { createHash } from 'node:crypto';
import { chmod, cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { createRuntimeFromConfig, type Runtime } from '../../src/app/runtime.js';
import { resolveConfig } from '../../src/config/resolve-config.js';
import type { NanoclawEvent } from '../../src/events/types.js';
import { silentLogger } from '../../src/log/logger.js';
import type { ContainerRuntime } from '../../src/sandbox/container-runtime.js';
import { SkillCatalog } from '../../src/sandbox/skill-catalog.js';
import { SkillRunner } from '../../src/sandbox/skill-runner.js';
import { REPO_SKILLS_DIR, TEST_BASE_IMAGE, TEST_SKILL_IMAGE } from './docker.js';
import type { FakeNangoServer } from './fake-nango-server.js';

/** A skill written for a test: its manifest and files (e.g. a Python one-liner's script). */
export interface TestSkill {
  manifest: Record<string, unknown>;
  files?: Record<string, string>;
}

export interface SkillSandboxOptions {
  nango: FakeNangoServer;
  containers: ContainerRuntime;
  /** Providers configured in nanoclaw.config.yaml (served by the fake Nango). */
  providers?: Array<{ name: string; scopes?: string[] }>;
  skills?: Record<string, TestSkill>;
  /** Copy these skills of the repository (e.g. the reference skill) into the test's skills folder. */
  repoSkills?: string[];
  stopGraceSeconds?: number;
}

/** The short fingerprint a test skill prints instead of a token: tests match it, nobody can use it. */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 16);
}

/**
 * A data folder, a skills folder, a config pointing at a loopback fake Nango, and the product's own
 * runtime and skill runner on top, with every container forced onto network "none".
 */
export class SkillSandbox implements AsyncDisposable {
  readonly events: NanoclawEvent[] = [];
  #unsubscribe: () => void = () => {};

  private constructor(
    readonly root: string,
    readonly skillsDir: string,
    readonly runtime: Runtime,
    readonly catalog: SkillCatalog,
    readonly runner: SkillRunner,
  ) {
    this.#unsubscribe = runtime.events.subscribe((event) => this.events.push(event));
  }

  static async create(options: SkillSandboxOptions): Promise<SkillSandbox> {
    const root = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-sandbox-'));
    const skillsDir = path.join(root, 'skills');
    await mkdir(skillsDir, { recursive: true });
    for (const name of options.repoSkills ?? []) {
      await cp(path.join(REPO_SKILLS_DIR, name), path.join(skillsDir, name), { recursive: true });
    }
    for (const [name, skill] of Object.entries(options.skills ?? {})) {
      const dir = path.join(skillsDir, name);
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'skill.yaml'), toYaml({ name, ...skill.manifest }));
      for (const [file, text] of Object.entries(skill.files ?? {}))
        await writeFile(path.join(dir, file), text);
    }
    // The skill user (10001) reads the mounted skill folders; mkdtemp made them private.
    await makeReadable(skillsDir);

    const resolved = resolveConfig(
      {
        dataDir: path.join(root, 'data'),
        skillsDir,
        nango: { host: options.nango.url, secretKey: options.nango.secretKey, timeout: 5 },
        sandbox: { image: TEST_SKILL_IMAGE, baseImage: TEST_BASE_IMAGE, network: 'none' },
        providers: (options.providers ?? []).map((provider) => ({
          name: provider.name,
          source: 'nango',
          scopes: provider.scopes ?? [],
        })),
      },
      { env: {}, cwd: root, configPath: null },
    );
    if ('errors' in resolved) throw new Error(resolved.errors.join('\n'));
    const runtime = createRuntimeFromConfig(resolved.config, [], { logger: silentLogger() });
    const catalog = await SkillCatalog.load(skillsDir);
    const runner = new SkillRunner({
      config: resolved.config,
      catalog,
      containers: options.containers,
      tokenSync: runtime.tokenSync,
      sources: runtime.sources.registry,
      events: runtime.events,
      logger: runtime.logger,
      stopGraceSeconds: options.stopGraceSeconds ?? 1,
    });
    return new SkillSandbox(root, skillsDir, runtime, catalog, runner);
  }

  get tokensDir(): string {
    return this.runtime.config.tokensDir;
  }

  /** Writes a token file the way a sync does (atomic rename, 0640, the skill user's group). */
  async writeToken(
    owner: string,
    provider: string,
    accessToken: string,
    expiresInMs = 3600_000,
  ): Promise<void> {
    const now = new Date();
    await this.runtime.folder.write(
      owner,
      {
        provider,
        access_token: accessToken,
        token_type: 'Bearer',
        expires_at: new Date(Date.now() + expiresInMs).toISOString(),
        scopes: ['read'],
        synced_at: now.toISOString(),
      },
      now,
    );
  }

  ofType<T extends NanoclawEvent['type']>(type: T): Array<Extract<NanoclawEvent, { type: T }>> {
    return this.events.filter((event): event is Extract<NanoclawEvent, { type: T }> => event.type === type);
  }

  /** stdout lines of skill_output events, in order. */
  stdout(runId?: string): string[] {
    return this.ofType('skill_output')
      .filter((event) => event.stream === 'stdout' && (runId === undefined || event.runId === runId))
      .map((event) => event.line);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    this.#unsubscribe();
    await this.runner.stopAll();
    await this.runtime.close();
    await rm(this.root, { recursive: true, force: true });
  }
}

async function makeReadable(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await makeReadable(full);
    else await chmod(full, 0o644);
  }
}
