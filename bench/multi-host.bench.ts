/**
 * Many hosts on one PostgreSQL: 3,000 built-in grants come due in one wave against a provider that
 * answers in 20 ms and rotates refresh tokens (a replayed one is refused). Three host processes that
 * each meet the whole wave (every host holds every owner's token file) against one host doing the
 * same wave, in the same run: token requests made (goal: exactly one per grant, none refused), wall
 * time of three hosts against one (goal: at most 0.5x), and how long an event raised on one host
 * takes to reach another through LISTEN/NOTIFY (goal: median under 50 ms).
 *
 * Needs PostgreSQL: NANOCLAW_BENCH_DATABASE_URL, or the server scripts/start-postgres.sh started.
 * NANOCLAW_BENCH_GRANTS changes the size of the wave.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { EventBus } from '../src/events/event-bus.js';
import { CredentialStore } from '../src/sources/builtin/credential-store.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import type { BenchmarkResult } from './run.js';
import { cpuSecondsOf } from './support/server-cpu.js';
import { WaveProvider } from './support/wave-provider.js';

const GRANTS = Number(process.env.NANOCLAW_BENCH_GRANTS ?? 3000);
const PROVIDER_LATENCY_MS = 20;
const CONCURRENCY = 10;
const EVENTS = 200;
const HOST = fileURLToPath(new URL('./support/wave-host.ts', import.meta.url));
/** Where scripts/start-postgres.sh leaves the server's URL (then where earlier versions did). */
const URL_FILES = ['/var/lib/nanoclaw-postgres/url', '/var/tmp/nanoclaw-postgres/url'];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function serverUrl(): Promise<string | null> {
  if (process.env.NANOCLAW_BENCH_DATABASE_URL) return process.env.NANOCLAW_BENCH_DATABASE_URL;
  for (const file of URL_FILES) {
    const text = await readFile(file, 'utf8').catch(() => null);
    if (text !== null) return text.trim();
  }
  return null;
}

async function admin(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const owners = Array.from({ length: GRANTS }, (_, index) => `owner-${index}`);

/** Writes every grant with an expired access token and a refresh token the provider takes once. */
async function seed(url: string, key: string, provider: WaveProvider, dir: string): Promise<void> {
  const store = new PostgresStore({ url, poolSize: 20 });
  try {
    const credentials = new CredentialStore({ dir, encryptionKey: key, records: store.grants });
    const past = new Date(Date.now() - 3_600_000);
    for (let start = 0; start < owners.length; start += 50) {
      await Promise.all(
        owners.slice(start, start + 50).map((owner) =>
          credentials.write({
            owner,
            provider: 'wave',
            status: 'active',
            accessToken: 'expired',
            refreshToken: provider.issue(),
            tokenType: 'Bearer',
            expiresAt: past,
            scopes: ['read'],
            authorizedAt: past,
            obtainedAt: new Date(past.getTime() - 3_600_000),
            lastRefreshedAt: null,
            generation: 1,
            needsAuth: null,
          }),
        ),
      );
    }
  } finally {
    await store.close();
  }
}

interface WaveResult {
  wallMs: number;
  /** CPU time of the host processes together. */
  cpuMs: number;
  /** CPU time of PostgreSQL's processes meanwhile, when it runs on this machine (null: not seen). */
  databaseCpuMs: number | null;
  /** CPU time of this process meanwhile: the provider's answers. */
  providerCpuMs: number;
  requests: number;
  refused: number;
  states: Record<string, number>;
}

/** Starts `hosts` host processes, sends them all "go" at once, and waits for every one. */
async function wave(
  hosts: number,
  split: boolean,
  url: string,
  key: string,
  provider: WaveProvider,
  root: string,
): Promise<WaveResult> {
  const children = Array.from({ length: hosts }, (_, index) => {
    const child = spawn(process.execPath, ['--import', 'tsx', HOST], {
      env: {
        ...process.env,
        NANOCLAW_WAVE_HOST: JSON.stringify({
          databaseUrl: url,
          encryptionKey: key,
          tokenUrl: provider.url,
          dataDir: path.join(root, `host-${hosts}-${split ? 'split' : 'all'}-${index}`),
          owners: split ? owners.filter((_, position) => position % hosts === index) : owners,
          concurrency: CONCURRENCY,
        }),
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const lines = createInterface({ input: child.stdout });
    const next = () =>
      new Promise<string>((resolve, reject) => {
        lines.once('line', resolve);
        child.once('exit', (code) => reject(new Error(`a host exited (${code})`)));
      });
    return { child, next, exited };
  });
  await Promise.all(children.map(async ({ next }) => expectLine(await next(), 'ready')));
  const before = { requests: provider.requests, refused: provider.refused };
  const databaseBefore = await cpuSecondsOf('postgres');
  const providerBefore = process.cpuUsage();
  const started = performance.now();
  const done = children.map(({ next }) => next());
  for (const { child } of children) child.stdin.write('go\n');
  const results = (await Promise.all(done)).map(
    (line) => JSON.parse(line) as { ms: number; cpuMs: number; states: Record<string, number> },
  );
  const wallMs = performance.now() - started;
  const providerCpu = process.cpuUsage(providerBefore);
  // Read while the hosts' connections are open: a backend that has ended takes its CPU time along.
  const databaseAfter = await cpuSecondsOf('postgres');
  for (const { child } of children) child.stdin.end('close\n');
  await Promise.all(children.map(({ exited }) => exited));
  const states: Record<string, number> = {};
  for (const result of results)
    for (const [state, count] of Object.entries(result.states)) states[state] = (states[state] ?? 0) + count;
  return {
    wallMs,
    cpuMs: results.reduce((sum, result) => sum + result.cpuMs, 0),
    databaseCpuMs:
      databaseBefore === null || databaseAfter === null ? null : (databaseAfter - databaseBefore) * 1000,
    providerCpuMs: (providerCpu.user + providerCpu.system) / 1000,
    requests: provider.requests - before.requests,
    refused: provider.refused - before.refused,
    states,
  };
}

function expectLine(line: string, expected: string): void {
  if (line !== expected) throw new Error(`a host said "${line}", expected "${expected}"`);
}

/** Events from one store's bus to another's through PostgreSQL: the time from emit to arrival. */
async function eventLatencies(url: string): Promise<number[]> {
  const a = new PostgresStore({ url });
  const b = new PostgresStore({ url });
  try {
    await Promise.all([a.ready(), b.ready()]);
    const busA = new EventBus();
    const busB = new EventBus();
    await a.shareEvents(busA);
    await b.shareEvents(busB);
    const sent = new Map<string, number>();
    const latencies: number[] = [];
    const all = new Promise<void>((resolve) => {
      busB.on('token_synced', (event) => {
        const at = sent.get(event.owner);
        if (at !== undefined) latencies.push(performance.now() - at);
        if (latencies.length === EVENTS) resolve();
      });
    });
    for (let index = 0; index < EVENTS; index++) {
      const owner = `owner-${index}`;
      sent.set(owner, performance.now());
      busA.emit({ type: 'token_synced', owner, provider: 'wave', expiresAt: null });
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    return latencies;
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

/**
 * The least wall time the three hosts could take on this machine's cores, from the CPU the wave cost
 * them, PostgreSQL and the provider: what bounds the ratio when the hosts share the machine.
 */
function cpuFloorNote(three: WaveResult, one: WaveResult, cores: number): string {
  if (three.databaseCpuMs === null) return 'PostgreSQL runs elsewhere: its CPU is not counted';
  const floorMs = (three.cpuMs + three.databaseCpuMs + three.providerCpuMs) / cores;
  return (
    `three hosts (a third each) and PostgreSQL and the provider used ${((three.cpuMs + three.databaseCpuMs + three.providerCpuMs) / 1000).toFixed(1)} s of CPU: ` +
    `on ${cores} cores no less than ${(floorMs / 1000).toFixed(2)} s of wall time, ${(floorMs / one.wallMs).toFixed(2)}x one host`
  );
}

export default async function multiHostBenchmark(): Promise<BenchmarkResult> {
  const server = await serverUrl();
  if (server === null) {
    return {
      name: 'multi-host',
      rows: [{ skipped: 'no PostgreSQL: start one with scripts/start-postgres.sh' }],
    };
  }
  const root = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-bench-multi-host-'));
  const provider = await WaveProvider.start(PROVIDER_LATENCY_MS);
  const key = randomBytes(32).toString('base64');
  const databases: string[] = [];
  const database = async () => {
    const name = `nanoclaw_bench_${randomBytes(4).toString('hex')}`;
    await admin(server, `CREATE DATABASE ${name}`);
    databases.push(name);
    const parsed = new URL(server);
    parsed.pathname = `/${name}`;
    return parsed.href;
  };
  try {
    const run = async (hosts: number, split: boolean) => {
      const url = await database();
      await seed(url, key, provider, path.join(root, `seed-${hosts}-${split}`));
      return { url, result: await wave(hosts, split, url, key, provider, root) };
    };
    const one = (await run(1, false)).result;
    const three = (await run(3, true)).result;
    const { url: everyUrl, result: every } = await run(3, false);
    const latencies = await eventLatencies(everyUrl);
    const row = (hosts: string, result: WaveResult) => ({
      hosts,
      grants: String(GRANTS),
      'token requests': String(result.requests),
      refused: String(result.refused),
      'wall time': `${(result.wallMs / 1000).toFixed(2)} s`,
      'vs one host': `${(result.wallMs / one.wallMs).toFixed(2)}x`,
      'host CPU': `${(result.cpuMs / 1000).toFixed(2)} s`,
      'per grant: host / database / provider CPU': `${(result.cpuMs / GRANTS).toFixed(2)} / ${
        result.databaseCpuMs === null ? '?' : (result.databaseCpuMs / GRANTS).toFixed(2)
      } / ${(result.providerCpuMs / GRANTS).toFixed(2)} ms`,
      'sync results': Object.entries(result.states)
        .map(([state, count]) => `${state} ${count}`)
        .join(', '),
    });
    return {
      name: 'multi-host',
      rows: [
        row('1', one),
        row('3, a third of the owners each', three),
        row('3, every owner on each', every),
      ],
      notes: [
        `provider answers in ${PROVIDER_LATENCY_MS} ms and takes each refresh token once; ${CONCURRENCY} requests at a time per host`,
        'a third each: the load balancer keeps each owner on one host, and the hosts share the wave',
        "every owner on each: every host holds every owner's token file and meets the whole wave, in its own order (each host writes its own files; one request per grant all the same)",
        `event latency host to host (LISTEN/NOTIFY, ${latencies.length}/${EVENTS} arrived): median ${median(latencies).toFixed(1)} ms, p95 ${percentile(latencies, 95).toFixed(1)} ms`,
        `machine: ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)} at the end; with fewer cores than busy processes, the hosts' CPU (not the provider) bounds the wall time`,
        cpuFloorNote(three, one, os.cpus().length),
        `goals: ${GRANTS} token requests and none refused; three hosts at most 0.5x one; median event latency under 50 ms`,
      ],
      metrics: {
        grants: GRANTS,
        oneHost: one,
        threeHostsSplit: three,
        threeHostsEveryOwner: every,
        wallTimeRatio: three.wallMs / one.wallMs,
        wallTimeRatioEveryOwner: every.wallMs / one.wallMs,
        eventLatencyMs: {
          median: median(latencies),
          p95: percentile(latencies, 95),
          arrived: latencies.length,
        },
      },
    };
  } finally {
    await provider.close();
    for (const name of databases)
      await admin(server, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    await rm(root, { recursive: true, force: true });
  }
}
