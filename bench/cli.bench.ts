/**
 * The built CLI's start-up, as whole processes against `node -e 0` in the same run, interleaved:
 * a warm `nanoclaw sync` (1 provider, its token file fresh: no source request) and a
 * `nanoclaw status`, in CPU time (user + system, all threads), plus the peak memory of the warm sync
 * beside `node -e 0`'s. Goals: sync / node at most 2.5, status / node at most 2.0.
 *
 * A status whose code cache is empty (the first after an install) is measured too.
 *
 * Measured twice: with PATH as the whole environment (the bare cost of each process), and with the
 * environment the benchmark runs in, as a user's shell on this machine would start them (settings such
 * as NODE_EXTRA_CA_CERTS make every Node process, `node -e 0` too, start slower).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { FakeNangoServer } from '../test/support/fake-nango-server.js';
import {
  builtCliEntry,
  measureNode,
  median,
  peakRssKib,
  percentile,
  type ProcessOptions,
} from './process-usage.js';
import type { BenchmarkResult } from './run.js';

export const name = 'CLI start-up: the built CLI as a process, against node -e 0';

const ROUNDS = Number(process.env.BENCH_CLI_ROUNDS || 30);
const RSS_ROUNDS = Number(process.env.BENCH_CLI_RSS_ROUNDS || 7);
const FIRST_RUN_ROUNDS = Number(process.env.BENCH_CLI_FIRST_RUN_ROUNDS || 7);
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

    const clean = await measureStartup(entry, options, server);
    const inherited = await measureStartup(entry, { ...options, inheritEnv: true }, server);

    // A status that finds no code cache (the first after an install or an update) stores one.
    const firstRun = { node: [] as number[], status: [] as number[] };
    for (let round = 0; round < FIRST_RUN_ROUNDS; round++) {
      const cacheHome = await mkdtemp(path.join(dir, 'cache-'));
      firstRun.node.push((await measureNode(['-e', '0'], options)).cpuMs);
      const usage = await measureNode([entry, 'status'], {
        ...options,
        env: { ...options.env, XDG_CACHE_HOME: cacheHome },
      });
      if (usage.exitCode !== 0) throw new Error(`nanoclaw status exited ${usage.exitCode}`);
      firstRun.status.push(usage.cpuMs);
    }

    const rss = { node: [] as number[], sync: [] as number[] };
    for (let round = 0; round < RSS_ROUNDS; round++) {
      rss.node.push(await peakRssKib(['-e', '0'], options));
      rss.sync.push(await peakRssKib([entry, 'sync'], options));
    }
    const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
    return {
      name,
      rows: [
        ...rowsFor('PATH only', clean),
        ...rowsFor("the benchmark's own", inherited),
        {
          measure: `[PATH only environment] nanoclaw status, its code cache empty: CPU time (median of ${FIRST_RUN_ROUNDS})`,
          value: `${median(firstRun.status).toFixed(1)} ms`,
          detail: `node -e 0: ${median(firstRun.node).toFixed(1)} ms; x${(median(firstRun.status) / median(firstRun.node)).toFixed(2)}`,
        },
        {
          measure: `peak RSS, warm sync (median of ${RSS_ROUNDS}, PATH only)`,
          value: mib(median(rss.sync)),
          detail: `node -e 0: ${mib(median(rss.node))}; x${(median(rss.sync) / median(rss.node)).toFixed(2)}`,
        },
      ],
      notes: [
        `${entry} run by ${process.execPath} (Node ${process.versions.node}), as the package's bin runs it.`,
        'CPU time is what bash `times` reports for the child: user + system of every thread, start to exit.',
        `Rounds are interleaved (${ROUNDS} after ${WARMUP} warm-up rounds), so load on the machine hits all alike.`,
        'sync and status start from the code cache that their first run stored (before the timed rounds);',
        'the row "its code cache empty" is a status that finds none, as the first one after an install does.',
        'Peak RSS: process.resourceUsage().maxRSS at exit, through the same small --import hook for both.',
      ],
      metrics: {
        node: process.versions.node,
        clean,
        inherited,
        syncGoal: SYNC_GOAL,
        statusGoal: STATUS_GOAL,
        nodePeakRssKib: median(rss.node),
        syncPeakRssKib: median(rss.sync),
        firstRunStatusCpuMs: median(firstRun.status),
        firstRunNodeCpuMs: median(firstRun.node),
      },
    };
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

interface Startup {
  nodeCpuMs: number;
  syncCpuMs: number;
  statusCpuMs: number;
  syncRatio: number;
  statusRatio: number;
  sourceRequests: number;
  p95: { node: number; sync: number; status: number };
}

/** `node -e 0`, a warm sync and a status, interleaved, in one environment. */
async function measureStartup(
  entry: string,
  options: ProcessOptions,
  server: FakeNangoServer,
): Promise<Startup> {
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
  const [node, sync, status] = contestants.map((contestant) => median(contestant.times)) as [
    number,
    number,
    number,
  ];
  const [nodeP95, syncP95, statusP95] = contestants.map((contestant) =>
    percentile(contestant.times, 0.95),
  ) as [number, number, number];
  return {
    nodeCpuMs: node,
    syncCpuMs: sync,
    statusCpuMs: status,
    syncRatio: sync / node,
    statusRatio: status / node,
    sourceRequests,
    p95: { node: nodeP95, sync: syncP95, status: statusP95 },
  };
}

function rowsFor(environment: string, startup: Startup): BenchmarkResult['rows'] {
  const cpu = (value: number, p95: number) => ({
    value: `${value.toFixed(1)} ms`,
    detail: `p95 ${p95.toFixed(1)} ms`,
  });
  return [
    {
      measure: `[${environment} environment] node -e 0: CPU time (median of ${ROUNDS})`,
      ...cpu(startup.nodeCpuMs, startup.p95.node),
    },
    {
      measure: `[${environment} environment] nanoclaw sync (warm): CPU time`,
      ...cpu(startup.syncCpuMs, startup.p95.sync),
    },
    {
      measure: `[${environment} environment] nanoclaw status: CPU time`,
      ...cpu(startup.statusCpuMs, startup.p95.status),
    },
    {
      measure: `[${environment} environment] ratio of medians, warm sync / node -e 0 (goal <= ${SYNC_GOAL})`,
      value: startup.syncRatio.toFixed(2),
      detail: startup.syncRatio <= SYNC_GOAL ? 'meets the goal' : 'misses the goal',
    },
    {
      measure: `[${environment} environment] ratio of medians, status / node -e 0 (goal <= ${STATUS_GOAL})`,
      value: startup.statusRatio.toFixed(2),
      detail: startup.statusRatio <= STATUS_GOAL ? 'meets the goal' : 'misses the goal',
    },
    {
      measure: `[${environment} environment] token source requests during the timed warm syncs (goal 0)`,
      value: String(startup.sourceRequests),
      detail: '',
    },
  ];
}
