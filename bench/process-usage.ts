import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILT_CLI_ENV } from '../test/support/cli.js';

/** The CLI as `npm run build` ships it (the package's bin); `npm run bench` builds it first. */
export function builtCliEntry(): string {
  return process.env[BUILT_CLI_ENV] ?? fileURLToPath(new URL('../dist/bin/nanoclaw.js', import.meta.url));
}

export interface ProcessUsage {
  exitCode: number;
  /** User + system CPU time of the whole process (all its threads), from its start to its end. */
  cpuMs: number;
  wallMs: number;
}

export interface ProcessOptions {
  cwd: string;
  env?: Record<string, string>;
  /** Start from this process's whole environment instead of PATH alone. */
  inheritEnv?: boolean;
}

/**
 * Runs `node <args>` under bash and reads its CPU time from bash's `times` (the children's user and
 * system time, as the kernel accounts it): nothing is added to the measured process.
 */
export function measureNode(args: readonly string[], options: ProcessOptions): Promise<ProcessUsage> {
  const script = '"$@" >/dev/null 2>&1; code=$?; times; exit $code';
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('bash', ['-c', script, 'bash', process.execPath, ...args], {
      cwd: options.cwd,
      env: { ...(options.inheritEnv ? process.env : { PATH: process.env.PATH }), ...options.env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      const wallMs = performance.now() - started;
      // Second line: the children's "user system", e.g. "0m0.039s 0m0.013s".
      const children = out.trim().split('\n')[1] ?? '';
      const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map(
        (match) => Number(match[1]) * 60 + Number(match[2]),
      );
      if (seconds.length !== 2) return reject(new Error(`cannot read the CPU time from "${out}"`));
      resolve({ exitCode: code ?? -1, cpuMs: (seconds[0]! + seconds[1]!) * 1000, wallMs });
    });
  });
}

/**
 * Peak resident memory of `node <args>` in KiB, as the process itself sees it at exit
 * (`process.resourceUsage().maxRSS`), through a small `--import` hook given to every process measured
 * this way, so that the comparison stays fair.
 */
export async function peakRssKib(args: readonly string[], options: ProcessOptions): Promise<number> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-bench-rss-'));
  try {
    const hook = path.join(dir, 'rss.mjs');
    const record = path.join(dir, 'rss.txt');
    await writeFile(
      hook,
      "import { writeFileSync } from 'node:fs';\n" +
        `process.on('exit', () => writeFileSync(${JSON.stringify(record)}, String(process.resourceUsage().maxRSS)));\n`,
    );
    const usage = await measureNode(['--import', hook, ...args], options);
    if (usage.exitCode !== 0) throw new Error(`node ${args.join(' ')} exited ${usage.exitCode}`);
    return Number(await readFile(record, 'utf8'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

export const median = (values: readonly number[]) => percentile(values, 0.5);
