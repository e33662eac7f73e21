/**
 * `nanoclaw serve`: (1) `POST /api/auth/complete` until the token file is on disk, over real HTTP
 * against a loopback Nango answering at once and in 50 ms; (2) the refresher holding 10,000 tokens:
 * heap, CPU while idle and during a wave where every token is due at once, each next to an empty
 * refresher measured in the same run.
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { NangoProviderConfig } from '../src/config/types.js';
import { systemClock, type Clock, type TimerHandle } from '../src/daemon/clock.js';
import { Refresher } from '../src/daemon/refresher.js';
import { EventBus } from '../src/events/event-bus.js';
import { silentLogger } from '../src/log/logger.js';
import { TokenSourceRegistry, type TokenSource } from '../src/sources/token-source.js';
import { serializeTokenFile } from '../src/tokens/token-file.js';
import { TokenFolder } from '../src/tokens/token-folder.js';
import { TokenSync } from '../src/tokens/token-sync.js';
import { FakeNangoServer } from '../test/support/fake-nango-server.js';
import { TestDaemon } from '../test/integration/web/daemon-harness.js';
import type { BenchmarkResult } from './run.js';

const AUTH_ITERATIONS = 40;
const TOKENS = 10_000;
const IDLE_MS = 3_000;
const REFRESH = { marginMs: 300_000, maxAgeMs: 300_000, concurrency: 10 };

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)]!;
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

/** Time from sending `POST /api/auth/complete` to the token file being on disk, per new owner. */
async function authCompleteLatency(latencyMs: number): Promise<number[]> {
  const nango = await FakeNangoServer.start({ latencyMs });
  const daemon = await TestDaemon.start({ nango, daemon: { watch: false } });
  const times: number[] = [];
  try {
    for (let index = 0; index < AUTH_ITERATIONS + 3; index++) {
      const owner = `owner-${index}`;
      nango.addConnection({ integration: 'google-calendar', endUserId: owner });
      const started = performance.now();
      const response = await daemon.api('POST', '/api/auth/complete', {
        body: { owner, provider: 'google-calendar' },
      });
      await stat(path.join(daemon.dir, 'data', 'tokens', owner, 'google-calendar.json'));
      const elapsed = performance.now() - started;
      if (response.status !== 200 || response.body.state !== 'refreshed') {
        throw new Error(`auth complete answered ${response.status}: ${response.text}`);
      }
      if (index >= 3) times.push(elapsed); // the first calls warm up the JIT and connections
    }
  } finally {
    await daemon.close();
    await nango.close();
  }
  return times;
}

const provider: NangoProviderConfig = {
  name: 'calendar',
  source: 'nango',
  integration: 'calendar',
  connections: {},
  scopes: [],
  exposeRefreshToken: false,
};

/** A source that hands out a new one-hour token at once: the wave measures us, not a network. */
function instantSource(onFetch: () => void = () => {}): TokenSource {
  return {
    kind: 'nango',
    fetchToken: async () => {
      onFetch();
      return {
        status: 'token',
        token: {
          accessToken: `token-${Math.random().toString(36).slice(2)}`,
          tokenType: 'Bearer',
          expiresAt: new Date(Date.now() + 3_600_000),
          scopes: null,
          refreshToken: null,
        },
      };
    },
    authorizationUrl: async () => null,
    disconnect: async () => {},
    close: async () => {},
  };
}

async function writeTokens(root: string, count: number, expiresAt: Date): Promise<void> {
  const syncedAt = new Date(Date.now() - 3_600_000).toISOString();
  for (let start = 0; start < count; start += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, count - start) }, async (_, offset) => {
        const dir = path.join(root, `owner-${start + offset}`);
        await mkdir(dir, { recursive: true });
        await writeFile(
          path.join(dir, 'calendar.json'),
          serializeTokenFile({
            provider: 'calendar',
            access_token: 'bench-token',
            token_type: 'Bearer',
            expires_at: expiresAt.toISOString(),
            scopes: [],
            synced_at: syncedAt,
          }),
        );
      }),
    );
  }
}

/** The real clock, counting the timers that are set and not yet fired or cleared. */
function countingClock(): Clock & { readonly live: number } {
  const live = new Set<TimerHandle>();
  return {
    now: systemClock.now,
    setTimeout(callback, delay) {
      const handle: TimerHandle = systemClock.setTimeout(() => {
        live.delete(handle);
        callback();
      }, delay);
      live.add(handle);
      return handle;
    },
    clearTimeout(handle) {
      live.delete(handle);
      systemClock.clearTimeout(handle);
    },
    get live() {
      return live.size;
    },
  };
}

function makeRefresher(
  root: string,
  events: EventBus,
  clock: Clock = systemClock,
  source: TokenSource = instantSource(),
): Refresher {
  const folder = new TokenFolder(root);
  const logger = silentLogger();
  const tokenSync = new TokenSync({
    config: { providers: [provider], refresh: REFRESH },
    folder,
    sources: new TokenSourceRegistry({ nango: source }),
    events,
    logger,
  });
  return new Refresher({ tokens: tokenSync, store: folder, events, logger, settings: REFRESH, clock });
}

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** CPU used over an idle window; the lower of two, so a stray collection does not count. */
async function idleCpuMs(): Promise<number> {
  const windows: number[] = [];
  for (let round = 0; round < 2; round++) {
    const before = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const used = process.cpuUsage(before);
    windows.push((used.user + used.system) / 1000);
  }
  return Math.min(...windows);
}

interface RefresherFigures {
  /** Heap in use with the refresher started, after a full collection. */
  heapBytes: number;
  /** What starting it added. */
  heapDeltaBytes: number;
  idleCpuMs: number;
  timers: number;
  startMs: number;
}

async function holdTokens(root: string, count: number): Promise<RefresherFigures> {
  await writeTokens(root, count, new Date(Date.now() + 3_600_000));
  const events = new EventBus();
  const clock = countingClock();
  const heapBefore = heapUsed();
  const refresher = makeRefresher(root, events, clock);
  const started = performance.now();
  await refresher.start();
  const startMs = performance.now() - started;
  if (refresher.size !== count) throw new Error(`the refresher holds ${refresher.size}, expected ${count}`);
  const heapBytes = heapUsed();
  const figures = {
    heapBytes,
    heapDeltaBytes: heapBytes - heapBefore,
    idleCpuMs: await idleCpuMs(),
    timers: clock.live,
    startMs,
  };
  await refresher.stop();
  return figures;
}

/** A wave of this size that has not finished by then is reported as stuck, with how far it got. */
const WAVE_DEADLINE_MS = 300_000;

async function refreshWave(root: string, count: number) {
  await writeTokens(root, count, new Date(Date.now() - 1_000));
  const events = new EventBus();
  let synced = 0;
  let allDone: () => void = () => {};
  const done = new Promise<void>((resolve) => (allDone = resolve));
  events.subscribe((event) => {
    if (event.type === 'token_synced' && ++synced === count) allDone();
  });
  // The clock starts when the first refresh asks the source, not at start(): the refresher never
  // plans anything sooner than a second ahead, and that wait is not work.
  const firstRequest: { at?: number; cpu?: NodeJS.CpuUsage } = {};
  const source = instantSource(() => {
    if (firstRequest.at !== undefined) return;
    firstRequest.cpu = process.cpuUsage();
    firstRequest.at = performance.now();
  });
  const refresher = makeRefresher(root, events, systemClock, source);
  // The refresher's timer does not hold the process open (the server does that in `serve`).
  const keepAlive = setInterval(() => {}, 1_000);
  let deadline: NodeJS.Timeout | undefined;
  try {
    await refresher.start();
    const stuck = new Promise<never>((_, reject) => {
      deadline = setTimeout(
        () =>
          reject(
            new Error(
              `refresh wave: only ${synced} of ${count} tokens synced within ${WAVE_DEADLINE_MS / 1000} s`,
            ),
          ),
        WAVE_DEADLINE_MS,
      );
    });
    await Promise.race([done, stuck]);
    const ended = performance.now();
    if (firstRequest.at === undefined || !firstRequest.cpu) {
      throw new Error('refresh wave: every token synced without asking the source');
    }
    const cpu = process.cpuUsage(firstRequest.cpu);
    return { wallMs: ended - firstRequest.at, cpuMs: (cpu.user + cpu.system) / 1000 };
  } finally {
    clearTimeout(deadline);
    clearInterval(keepAlive);
    await refresher.stop();
  }
}

export default async function serveBenchmark(): Promise<BenchmarkResult> {
  const rows: BenchmarkResult['rows'] = [];
  const metrics: Record<string, unknown> = {};

  for (const latencyMs of [0, 50]) {
    const times = await authCompleteLatency(latencyMs);
    const median = percentile(times, 0.5);
    const p95 = percentile(times, 0.95);
    rows.push({
      measure: `auth complete -> file on disk (Nango ${latencyMs} ms)`,
      value: `median ${ms(median)}, p95 ${ms(p95)}`,
      baseline: '',
      ratio: '',
    });
    metrics[`authCompleteNango${latencyMs}ms`] = { n: times.length, medianMs: median, p95Ms: p95 };
  }

  const base = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-bench-serve-'));
  try {
    await idleCpuMs(); // let the HTTP part's leftovers settle before any baseline
    const empty = await holdTokens(path.join(base, 'empty'), 0);
    const full = await holdTokens(path.join(base, 'full'), TOKENS);
    const wave = await refreshWave(path.join(base, 'wave'), TOKENS);
    const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
    const ratio = (value: number, against: number) =>
      against > 0 ? `${(value / against).toFixed(1)}x` : 'n/a';
    rows.push(
      {
        measure: `heap in use, refresher holding ${TOKENS} tokens`,
        value: `${kib(full.heapBytes)} (+${kib(full.heapDeltaBytes)}, ${(full.heapDeltaBytes / TOKENS).toFixed(0)} B/token)`,
        baseline: `${kib(empty.heapBytes)} empty`,
        ratio: ratio(full.heapBytes, empty.heapBytes),
      },
      {
        measure: `refresher CPU idle ${IDLE_MS / 1000} s, ${TOKENS} tokens`,
        value: ms(full.idleCpuMs),
        baseline: `${ms(empty.idleCpuMs)} empty`,
        ratio: ratio(full.idleCpuMs, empty.idleCpuMs),
      },
      {
        measure: `refresher timers while holding ${TOKENS} tokens`,
        value: String(full.timers),
        baseline: `${empty.timers} empty`,
        ratio: '',
      },
      {
        measure: `schedule rebuilt from ${TOKENS} files`,
        value: ms(full.startMs),
        baseline: '',
        ratio: '',
      },
      {
        measure: `refresh wave, ${TOKENS} tokens due at once (concurrency ${REFRESH.concurrency})`,
        value: `${ms(wave.wallMs)} wall, ${ms(wave.cpuMs)} CPU`,
        baseline: `${ms((empty.idleCpuMs / IDLE_MS) * wave.wallMs)} CPU idle empty`,
        ratio: ratio(wave.cpuMs, (empty.idleCpuMs / IDLE_MS) * wave.wallMs),
      },
      {
        measure: 'refresh wave per token',
        value: `${((wave.cpuMs / TOKENS) * 1000).toFixed(0)} µs CPU, ${(TOKENS / (wave.wallMs / 1000)).toFixed(0)} tokens/s`,
        baseline: '',
        ratio: '',
      },
    );
    Object.assign(metrics, { tokens: TOKENS, empty, full, wave });
  } finally {
    await rm(base, { recursive: true, force: true });
  }
  return {
    name: 'nanoclaw serve: auth completion latency and the refresher at 10,000 tokens',
    rows,
    notes: [
      'The wave writes every file through the real token folder (atomic write + fsync) with a source that answers at once;',
      'its clock runs from the first request to the source to the last token_synced (the planned 1 s before the first is left out).',
      'Baselines are an empty refresher measured in the same process; idle CPU includes the process itself.',
    ],
    metrics,
  };
}
