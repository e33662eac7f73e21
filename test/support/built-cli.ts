import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Metafile } from 'esbuild';
import { buildCli, type BuiltCli } from '../../scripts/build-cli.js';
import { BUILT_CLI_ENV, type CliRun } from './cli.js';

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Records every module the process loads, ESM and CommonJS, into $NANOCLAW_LOADED_MODULES at exit. */
const RECORD_LOADS = pathToFileURL(
  fileURLToPath(new URL('./record-loaded-modules.mjs', import.meta.url)),
).href;

/** The CLI bundled as `npm run build` bundles it, into a temporary folder of its own. */
export class BuiltCliFixture {
  private constructor(
    readonly dir: string,
    readonly built: BuiltCli,
    private readonly owned: boolean,
  ) {}

  /** The bundle of the test run's global setup, or a new one (removed by `remove`). */
  static async build(): Promise<BuiltCliFixture> {
    const shared = process.env[BUILT_CLI_ENV];
    if (shared) {
      const dir = path.dirname(shared);
      const metafile = JSON.parse(await readFile(path.join(dir, 'metafile.json'), 'utf8')) as Metafile;
      return new BuiltCliFixture(dir, { entry: shared, metafile }, false);
    }
    // Inside the package, so that the bundle finds node_modules as the installed one does.
    await mkdir(path.join(PACKAGE_ROOT, 'dist'), { recursive: true });
    const dir = await mkdtemp(path.join(PACKAGE_ROOT, 'dist', 'test-bin-'));
    return new BuiltCliFixture(dir, await buildCli(dir), true);
  }

  get entry(): string {
    return this.built.entry;
  }

  /** Runs the built CLI with this process's Node, as a user's shell would. */
  run(
    args: readonly string[],
    options: { cwd: string; env?: Record<string, string>; closeStdout?: boolean; timeoutMs?: number },
  ): Promise<CliRun> {
    return spawnNode([this.entry, ...args], options);
  }

  /**
   * Runs the built CLI and answers which packages (folder names under node_modules) and which of our
   * own modules (paths under src/, as `sources/builtin/builtin-source.ts`) the process loaded: from
   * the bundle's chunks it loaded, and from node_modules directly.
   */
  async packagesLoadedBy(
    args: readonly string[],
    options: { cwd: string; env?: Record<string, string> },
  ): Promise<{ run: CliRun; packages: Set<string>; ownModules: Set<string> }> {
    const record = path.join(await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-loaded-')), 'modules.txt');
    const run = await spawnNode(['--import', RECORD_LOADS, this.entry, ...args], {
      ...options,
      env: { ...options.env, NANOCLAW_LOADED_MODULES: record },
    });
    const files = (await readFile(record, 'utf8')).split('\n').filter(Boolean);
    await rm(path.dirname(record), { recursive: true, force: true });
    const packages = new Set<string>();
    const ownModules = new Set<string>();
    for (const file of files) {
      const output = path.relative(PACKAGE_ROOT, file).split(path.sep).join('/');
      const inputs = this.built.metafile.outputs[output]?.inputs ?? { [file]: null };
      for (const input of Object.keys(inputs)) {
        const name = input.split(path.sep).join('/');
        const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(name);
        if (match) packages.add(match[1]!);
        else if (name.startsWith('src/')) ownModules.add(name.slice('src/'.length));
      }
    }
    return { run, packages, ownModules };
  }

  async remove(): Promise<void> {
    if (this.owned) await rm(this.dir, { recursive: true, force: true });
  }
}

function spawnNode(
  args: readonly string[],
  options: { cwd: string; env?: Record<string, string>; closeStdout?: boolean; timeoutMs?: number },
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: options.cwd,
      env: { PATH: process.env.PATH, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    // A reader that went away before the first line: every write the process makes fails (EPIPE).
    if (options.closeStdout) child.stdout.destroy();
    else child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (signal) reject(new Error(`node ${args.join(' ')} was killed by ${signal}\n${stderr}`));
      else resolve({ exitCode: code ?? -1, stdout, stderr });
    });
  });
}
