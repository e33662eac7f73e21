import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { runCliInProcess, spawnCli, type CliRun } from '../../support/cli.js';
import type { FakeNangoServer } from '../../support/fake-nango-server.js';

/**
 * A temporary project folder with a nanoclaw.config.yaml pointed at a fake Nango server, which runs
 * the CLI (as a process or in this process) and keeps every run's output for a leak check.
 */
export class Project {
  readonly runs: { args: readonly string[]; run: CliRun }[] = [];

  private constructor(
    readonly dir: string,
    readonly server: FakeNangoServer,
  ) {}

  static async create(server: FakeNangoServer, config: Record<string, unknown>): Promise<Project> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-project-'));
    const project = new Project(dir, server);
    await project.writeConfig(config);
    return project;
  }

  async writeConfig(config: Record<string, unknown>): Promise<void> {
    await writeFile(path.join(this.dir, 'nanoclaw.config.yaml'), stringify(config));
  }

  get env(): Record<string, string> {
    return { NANGO_SECRET_KEY: this.server.secretKey, NANGO_HOST: this.server.url };
  }

  tokenPath(owner: string, provider: string): string {
    return path.join(this.dir, 'data', 'tokens', owner, `${provider}.json`);
  }

  async readToken(owner: string, provider: string): Promise<Record<string, unknown>> {
    return JSON.parse(await readFile(this.tokenPath(owner, provider), 'utf8')) as Record<string, unknown>;
  }

  /** `nanoclaw <args>` as a real process. */
  async spawn(args: readonly string[], env: Record<string, string> = this.env): Promise<CliRun> {
    const run = await spawnCli(args, { cwd: this.dir, env });
    this.runs.push({ args, run });
    return run;
  }

  /** The same command in this process (quicker), logs captured at info level. */
  async run(args: readonly string[], env: Record<string, string> = this.env): Promise<CliRun> {
    const run = await runCliInProcess(args, { cwd: this.dir, env });
    this.runs.push({ args, run });
    return run;
  }

  /** Runs whose output contains any of the given secrets. */
  leaks(secrets: readonly string[]): string[] {
    return this.runs.flatMap(({ args, run }) =>
      secrets
        .filter((secret) => run.stdout.includes(secret) || run.stderr.includes(secret))
        .map(() => `nanoclaw ${args.join(' ')}`),
    );
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** The parsed `--json` output of a run. */
export function jsonOf<T = Record<string, unknown>>(run: CliRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`expected JSON on stdout, got:\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}
