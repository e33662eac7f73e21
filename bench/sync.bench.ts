/**
 * `nanoclaw sync` of 1, 10 and 50 providers against a loopback Nango that answers in 50 ms, cold
 * (no token files) and warm (fresh files), measured in-process through the command function, plus the
 * real CLI process for one size. Returns median times, each row's ratio to the 1-provider row of its
 * mode, and how many source requests each sync made.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { syncCommand, type SyncCommandJson } from '../src/cli/commands/sync.js';
import { createRuntime } from '../src/app/runtime.js';
import { silentLogger } from '../src/log/logger.js';
import { spawnCli } from '../test/support/cli.js';
import type { BenchmarkResult } from './run.js';
import { FakeNangoServer } from '../test/support/fake-nango-server.js';

const LATENCY_MS = 50;
const SIZES = [1, 10, 50];
const ITERATIONS = 7;
const PROCESS_SIZE = 10;
const PROCESS_ITERATIONS = 3;

type Mode = 'cold' | 'warm';

interface Row {
  how: 'in-process' | 'process';
  mode: Mode;
  providers: number;
  medianMs: number;
  minMs: number;
  requests: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function createProject(server: FakeNangoServer, size: number): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `nanoclaw-bench-${size}-`));
  const providers = Array.from({ length: size }, (_, index) => ({ name: `provider-${index}` }));
  await writeFile(path.join(dir, 'nanoclaw.config.yaml'), stringify({ providers }));
  for (const provider of providers) server.addConnection({ integration: provider.name, endUserId: 'main' });
  return dir;
}

/** One `nanoclaw sync` as the CLI runs it: load config, build the runtime, sync, close. */
async function syncInProcess(dir: string, env: Record<string, string>): Promise<SyncCommandJson> {
  const runtime = await createRuntime({ cwd: dir, env, logger: silentLogger() });
  try {
    const result = await syncCommand(runtime, {});
    if (result.exitCode !== 0) throw new Error(`sync exited ${result.exitCode}: ${result.text}`);
    return result.json as SyncCommandJson;
  } finally {
    await runtime.close();
  }
}

async function measure(
  server: FakeNangoServer,
  iterations: number,
  mode: Mode,
  dir: string,
  run: () => Promise<unknown>,
): Promise<{ times: number[]; requests: number }> {
  const times: number[] = [];
  let requests = 0;
  for (let index = 0; index < iterations; index++) {
    if (mode === 'cold') await rm(path.join(dir, 'data'), { recursive: true, force: true });
    else await run(); // make sure the files are there and fresh
    server.resetStats();
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
    requests = Math.max(requests, server.requests.length);
  }
  return { times, requests };
}

function toRows(rows: Row[]): BenchmarkResult['rows'] {
  // A ratio only means something against a 1-provider row measured the same way.
  const base = (row: Row) =>
    rows.find((other) => other.how === row.how && other.mode === row.mode && other.providers === 1);
  return rows.map((row) => ({
    how: row.how,
    mode: row.mode,
    providers: String(row.providers),
    'median ms': row.medianMs.toFixed(1),
    'min ms': row.minMs.toFixed(1),
    'x 1-provider': ((one) => (one ? `${(row.medianMs / one.medianMs).toFixed(2)}x` : '-'))(base(row)),
    'source requests': String(row.requests),
    '~round trips': row.requests === 0 ? '0' : (row.medianMs / LATENCY_MS).toFixed(1),
  }));
}

export default async function syncBenchmark(): Promise<BenchmarkResult> {
  const server = await FakeNangoServer.start({ latencyMs: LATENCY_MS });
  const dirs: string[] = [];
  const rows: Row[] = [];
  try {
    const env = { NANGO_SECRET_KEY: server.secretKey, NANGO_HOST: server.url };
    for (const mode of ['cold', 'warm'] as const) {
      for (const size of SIZES) {
        const dir = await createProject(server, size);
        dirs.push(dir);
        await syncInProcess(dir, env); // warm up module loading and the connection pool
        const { times, requests } = await measure(server, ITERATIONS, mode, dir, () =>
          syncInProcess(dir, env),
        );
        rows.push({
          how: 'in-process',
          mode,
          providers: size,
          medianMs: median(times),
          minMs: Math.min(...times),
          requests,
        });
      }
    }
    for (const mode of ['cold', 'warm'] as const) {
      const dir = await createProject(server, PROCESS_SIZE);
      dirs.push(dir);
      const run = async () => {
        const result = await spawnCli(['sync'], { cwd: dir, env });
        if (result.exitCode !== 0)
          throw new Error(`nanoclaw sync exited ${result.exitCode}: ${result.stderr}`);
      };
      const { times, requests } = await measure(server, PROCESS_ITERATIONS, mode, dir, run);
      rows.push({
        how: 'process',
        mode,
        providers: PROCESS_SIZE,
        medianMs: median(times),
        minMs: Math.min(...times),
        requests,
      });
    }
    const warmRequests = rows
      .filter((row) => row.mode === 'warm')
      .reduce((sum, row) => sum + row.requests, 0);
    const cold = (size: number) =>
      rows.find((row) => row.how === 'in-process' && row.mode === 'cold' && row.providers === size)!;
    return {
      name:
        `nanoclaw sync against a loopback Nango answering in ${LATENCY_MS} ms, concurrency bound 10 (default); ` +
        `median of ${ITERATIONS} runs (process rows: ${PROCESS_ITERATIONS})`,
      rows: toRows(rows),
      notes: [
        `source requests made by warm syncs: ${warmRequests} (goal: 0)`,
        'cold: no token files (one connection list, then one read per provider); warm: every file fresh',
        "process rows spawn the built CLI (dist/bin) and include Node's start-up",
      ],
      metrics: {
        latencyMs: LATENCY_MS,
        cold1Ms: cold(1).medianMs,
        cold10Ms: cold(10).medianMs,
        cold50Ms: cold(50).medianMs,
        cold50RoundTrips: cold(50).medianMs / LATENCY_MS,
        warmSourceRequests: warmRequests,
      },
    };
  } finally {
    await server.close();
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }
}
