/**
 * The token view on the launch path: `ensureView` for 3 providers (the call a launch makes) against
 * `ensureOwnerDir` (what a launch did before views), cold (first launch: the view is made) and warm
 * (the view exists and is current), plus a token write with and without views to link into. Medians
 * over many calls, each row's ratio to the owner-folder baseline of the same run; the goal is under
 * 2 ms per launch for 3 providers.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TokenFile } from '../src/tokens/token-file.js';
import { TokenFolder } from '../src/tokens/token-folder.js';
import type { BenchmarkResult } from './run.js';

const PROVIDERS = ['google-calendar', 'github', 'gmail'];
const WARM_ITERATIONS = 500;
const COLD_ITERATIONS = 100;
const WRITE_ITERATIONS = 100;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function timeEach(iterations: number, action: (index: number) => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let index = 0; index < iterations; index += 1) {
    const started = process.hrtime.bigint();
    await action(index);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return median(times);
}

function token(provider: string, index: number): TokenFile {
  return {
    provider,
    access_token: `bench-access-token-${index}`,
    token_type: 'Bearer',
    expires_at: new Date(Date.now() + 3600_000).toISOString(),
    scopes: [],
    synced_at: new Date().toISOString(),
  };
}

export default async function tokenViewBenchmark(): Promise<BenchmarkResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-bench-view-'));
  try {
    const folder = new TokenFolder(path.join(dir, 'tokens'));
    for (const provider of [...PROVIDERS, 'dropbox'])
      await folder.write('main', token(provider, 0), new Date());

    const ownerDir = await timeEach(WARM_ITERATIONS, () => folder.ensureOwnerDir('main'));
    const warm = await timeEach(WARM_ITERATIONS, () => folder.ensureView('main', PROVIDERS));
    const coldOnly: number[] = [];
    for (let index = 0; index < COLD_ITERATIONS; index += 1) {
      const owner = `cold-only-${index}`;
      for (const provider of PROVIDERS) await folder.write(owner, token(provider, 0), new Date());
      const started = process.hrtime.bigint();
      await folder.ensureView(owner, PROVIDERS);
      coldOnly.push(Number(process.hrtime.bigint() - started) / 1e6);
    }

    const plain = new TokenFolder(path.join(dir, 'plain'));
    const writeWithout = await timeEach(WRITE_ITERATIONS, (index) =>
      plain.write('main', token('github', index + 1), new Date()),
    );
    // Three views of main declare github: each write links into all three.
    await folder.ensureView('main', ['github']);
    await folder.ensureView('main', ['github', 'gmail']);
    const writeWith = await timeEach(WRITE_ITERATIONS, (index) =>
      folder.write('main', token('github', index + 1), new Date()),
    );

    const coldMs = median(coldOnly);
    const rows = [
      { step: 'launch, before views: ensureOwnerDir', medianMs: ownerDir, ratio: 1 },
      { step: 'launch, view of 3 providers, warm', medianMs: warm, ratio: warm / ownerDir },
      { step: 'launch, view of 3 providers, cold', medianMs: coldMs, ratio: coldMs / ownerDir },
      { step: 'token write, no view', medianMs: writeWithout, ratio: 1 },
      { step: 'token write, linked into 3 views', medianMs: writeWith, ratio: writeWith / writeWithout },
    ];
    return {
      name: 'token view (launch path)',
      rows: rows.map((row) => ({
        step: row.step,
        'median ms': row.medianMs.toFixed(3),
        ratio: `${row.ratio.toFixed(2)}x`,
      })),
      notes: [
        `goal: a launch's view of 3 providers under 2 ms (warm ${warm.toFixed(3)} ms, cold ${coldMs.toFixed(3)} ms)`,
        'token writes fsync the file and its folder; the ratio is the cost of linking into views',
      ],
      metrics: {
        ownerDirMs: ownerDir,
        viewWarmMs: warm,
        viewColdMs: coldMs,
        writeWithoutViewsMs: writeWithout,
        writeWithViewsMs: writeWith,
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
