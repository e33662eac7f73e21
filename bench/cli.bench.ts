/**
 * The built CLI's start-up, as whole processes against `node -e 0` in the same run, interleaved:
 * a warm `nanoclaw sync` (1 provider, its token file fresh: no source request) and a
 * `nanoclaw status`, in CPU time (user + system, all threads), plus the peak memory of the warm sync
 * beside `node -e 0`'s. Goals: sync / node at most 2.5, status / node at most 2.0.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { FakeNangoServer } from '../test/support/fake-nango-server.js';
import { builtCliEntry, measureNode, median, peakRssKib, percentile } from './process-usage.js';
import type { BenchmarkResult } from './run.js';

export const name = 'CLI start-up: the built CLI as a process, against node -e 0';

const ROUNDS = Number(process.env.BENCH_CLI_ROUNDS || 30);
const RSS_ROUNDS = Number(process.env.BENCH_CLI_RSS_ROUNDS || 7);
const WARMUP = 3;
const SYNC_GOAL = 2.5;
const STATUS_GOAL = 2.0;

export default async function cliBench(): Promise<BenchmarkResult> {
  const entry = builtCliEntry();
  const server = await FakeNangoServer.start();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-bench-cli-'));
  try {
    await writeFile(
      path.join(dir, 'nanoclaw.config.yaml'),
      stringify({ providers: [{ name: 'google-calendar' }] }),
    );
    server.addConnection({ integration: 'google-calendar', endUserId: 'main' });
    const options = { cwd: dir, env: { NANGO_SECRET_KEY: server.secretKey, NANGO_HOST: server.url } };
    const first = await measureNode([entry, 'sync'], options);
    if (first.exitCode !== 0) throw new Error(`nanoclaw sync exited ${first.exitCode}`);

    const contestants = [
      { label: 'node -e 0', args: ['-e', '0'], expect: 0, times: [] as number[] },
      { label: 'nanoclaw sync (warm)', args: [entry, 'sync'], expect: 0, times: [] as number[] },
      { label: 'nanoclaw status', args: [entry, 'status'], expect: 0, times: [] as number[] },
    ];
    for (let round = 0; round < WARMUP; round++) {
      for (const contestant of contestants) await measureNode(contestant.args, options);
    }
    server.resetStats();
    for (let round = 0; round < ROUNDS; round++) {
      for (let index = 0; index < contestants.length; index++) {
        const contestant = contestants[(round + index) % contestants.length]!;
        const usage = await measureNode(contestant.args, options);
        if (usage.exitCode !== contestant.expect) {
          throw new Error(`${contestant.label} exited ${usage.exitCode}`);
        }
        contestant.times.push(usage.cpuMs);
      }
    }
    const sourceRequests = server.requests.length;

    const rss = { node: [] as number[], sync: [] as number[] };
    for (let round = 0; round < RSS_ROUNDS; round++) {
      rss.node.push(await peakRssKib(['-e', '0'], options));
      rss.sync.push(await peakRssKib([entry, 'sync'], options));
    }

    const [node, sync, status] = contestants.map((contestant) => median(contestant.times)) as [
      number,
      number,
      number,
    ];
    const syncRatio = sync / node;
    const statusRatio = status / node;
    const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
    return {
      name,
      rows: [
        ...contestants.map((contestant) => ({
          measure: `${contestant.label}: CPU time (median of ${ROUNDS})`,
          value: `${median(contestant.times).toFixed(1)} ms`,
          detail: `p95 ${percentile(contestant.times, 0.95).toFixed(1)} ms`,
        })),
        {
          measure: `ratio of medians, warm sync / node -e 0 (goal <= ${SYNC_GOAL})`,
          value: syncRatio.toFixed(2),
          detail: syncRatio <= SYNC_GOAL ? 'meets the goal' : 'misses the goal',
        },
        {
          measure: `ratio of medians, status / node -e 0 (goal <= ${STATUS_GOAL})`,
          value: statusRatio.toFixed(2),
          detail: statusRatio <= STATUS_GOAL ? 'meets the goal' : 'misses the goal',
        },
        {
          measure: 'token source requests during the timed warm syncs (goal 0)',
          value: String(sourceRequests),
          detail: '',
        },
        {
          measure: `peak RSS, warm sync (median of ${RSS_ROUNDS})`,
          value: mib(median(rss.sync)),
          detail: `node -e 0: ${mib(median(rss.node))}; x${(median(rss.sync) / median(rss.node)).toFixed(2)}`,
        },
      ],
      notes: [
        `${entry} run by ${process.execPath} (Node ${process.versions.node}), as the package's bin runs it.`,
        'CPU time is what bash `times` reports for the child: user + system of every thread, start to exit.',
        `Rounds are interleaved (${ROUNDS} after ${WARMUP} warm-up rounds), so load on the machine hits all alike.`,
        'Peak RSS: process.resourceUsage().maxRSS at exit, through the same small --import hook for both.',
      ],
      metrics: {
        node: process.versions.node,
        nodeCpuMs: node,
        syncCpuMs: sync,
        statusCpuMs: status,
        syncRatio,
        statusRatio,
        syncGoal: SYNC_GOAL,
        statusGoal: STATUS_GOAL,
        sourceRequests,
        nodePeakRssKib: median(rss.node),
        syncPeakRssKib: median(rss.sync),
      },
    };
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
