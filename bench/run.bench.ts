/**
 * `nanoclaw run` against a bare Docker run, on the real engine.
 *
 * 1. Overhead: a no-op skill that declares 3 providers with warm (fresh) tokens, run three ways:
 *    through the SkillRunner (pre-launch sync, owner folder, hardened container, attach and line
 *    parsing, removal); as the whole `nanoclaw run` command in this process (config file, runtime,
 *    skill catalog, leftover clean-up, then the same run); and as the built CLI, a process of its own
 *    (Node's start-up on top). Each against a bare dockerode create/start/wait/remove of the same image
 *    and command, and the process against `docker run --rm` of the same container (image, command,
 *    mounts, network none) from the docker CLI. Interleaved, one of each per round, so drift in the
 *    engine hits all alike. Goals: the command's median ratio <= 1.05; the process's against
 *    `docker run` <= 1.3.
 * 2. Latency: a skill prints lines carrying the wall-clock time it wrote them; a subscriber on the
 *    event bus notes when each `skill_output` event reaches it.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { stringify as toYaml } from 'yaml';
import { createRuntimeFromConfig, type Runtime } from '../src/app/runtime.js';
import { resolveConfig } from '../src/config/resolve-config.js';
import { silentLogger } from '../src/log/logger.js';
import { currentProcess } from '../src/sandbox/container-labels.js';
import { buildContainerSpec } from '../src/sandbox/container-spec.js';
import { DockerContainerRuntime, toDockerCreateOptions } from '../src/sandbox/docker-container-runtime.js';
import { SkillCatalog } from '../src/sandbox/skill-catalog.js';
import { SkillRunner } from '../src/sandbox/skill-runner.js';
import { SkillSnapshots } from '../src/sandbox/skill-snapshots.js';
import { runCliInProcess, spawnCli } from '../test/support/cli.js';
import { FakeNangoServer } from '../test/support/fake-nango-server.js';
import type { BenchmarkResult } from './run.js';

export const name = 'nanoclaw run vs a bare Docker run';

const IMAGE = process.env.NANOCLAW_SKILL_IMAGE || 'nanoclaw-skill:latest';
const BASE_IMAGE = process.env.NANOCLAW_BASE_IMAGE || 'nanoclaw-base:bookworm';
const ROUNDS = Number(process.env.BENCH_RUN_ROUNDS || 10);
const WARMUP = 2;
const NOOP_COMMAND = ['python3', '-c', 'pass'];
const PROVIDERS = ['google-calendar', 'github', 'slack'];
const LATENCY_RUNS = 3;
const LATENCY_LINES = 50;

export interface RunBenchResult extends BenchmarkResult {
  metrics: {
    nanoclawRunMedianMs: number;
    runCommandMedianMs: number;
    runProcessMedianMs: number;
    bareDockerMedianMs: number;
    hardenedDockerMedianMs: number;
    ratio: number;
    commandRatio: number;
    ratioGoal: number;
    dockerCliMedianMs: number;
    processRatio: number;
    processRatioGoal: number;
    lineToEventMedianMs: number;
    lineToEventP95Ms: number;
    sourceRequestsDuringRuns: number;
  };
}

function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

const median = (values: readonly number[]) => percentile(values, 0.5);
const ms = (value: number) => `${value.toFixed(1)} ms`;
/** A difference, with its sign. */
const deltaMs = (value: number) => `${value >= 0 ? '+' : '-'}${ms(Math.abs(value))}`;
/** Wall-clock milliseconds with sub-millisecond precision, comparable with the container's clock. */
const wallClockMs = () => performance.timeOrigin + performance.now();

/** Same image, command and network setting as the skill's container, nothing else. */
const BARE_OPTIONS: Docker.ContainerCreateOptions = {
  Image: IMAGE,
  Cmd: NOOP_COMMAND,
  // No network at all, as the skill gets: the engine skips network set-up, a big share of a start.
  NetworkDisabled: true,
  HostConfig: { NetworkMode: 'none' },
};

/** `docker run --rm` with the skill container's image, command and mounts, and no network. */
function dockerCliRun(options: Docker.ContainerCreateOptions): Promise<number> {
  const mounts = (options.HostConfig?.Mounts ?? []).map(
    (mount) =>
      `--mount=type=${mount.Type},source=${mount.Source},target=${mount.Target}${mount.ReadOnly ? ',readonly' : ''}`,
  );
  const args = ['run', '--rm', '--network', 'none', ...mounts, options.Image!, ...(options.Cmd as string[])];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('docker', args, {
      env: { PATH: process.env.PATH, ...(process.env.HOME ? { HOME: process.env.HOME } : {}) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) reject(new Error(`docker ${args.join(' ')} exited ${code}: ${stderr}`));
      else resolve(performance.now() - started);
    });
  });
}

async function bareDockerRun(docker: Docker, options: Docker.ContainerCreateOptions): Promise<number> {
  const started = performance.now();
  const container = await docker.createContainer(options);
  await container.start();
  await container.wait();
  await container.remove({ force: true });
  return performance.now() - started;
}

/** Runs the benchmark and returns its table for `npm run bench`; prints nothing. */
export default async function runBench(): Promise<RunBenchResult> {
  const containers = new DockerContainerRuntime();
  await containers.ping(AbortSignal.timeout(5_000));
  const docker = new Docker();
  const nango = await FakeNangoServer.start();
  const root = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-bench-run-'));
  let runtime: Runtime | undefined;
  try {
    const skillsDir = path.join(root, 'skills');
    const skills = {
      noop: { command: NOOP_COMMAND, providers: PROVIDERS.map((provider) => ({ name: provider })) },
      ticker: {
        command: [
          'python3',
          '-c',
          `import time\nfor _ in range(${LATENCY_LINES}):\n    print("%.6f" % (time.time() * 1000), flush=True)\n    time.sleep(0.02)`,
        ],
      },
    };
    for (const [skill, manifest] of Object.entries(skills)) {
      await mkdir(path.join(skillsDir, skill), { recursive: true });
      await writeFile(path.join(skillsDir, skill, 'skill.yaml'), toYaml({ name: skill, ...manifest }));
      await chmod(path.join(skillsDir, skill), 0o755);
    }
    await chmod(skillsDir, 0o755);

    const configFile = {
      dataDir: path.join(root, 'data'),
      skillsDir,
      nango: { host: nango.url, secretKey: nango.secretKey },
      sandbox: { image: IMAGE, baseImage: BASE_IMAGE, network: 'none' },
      providers: PROVIDERS.map((provider) => ({ name: provider, source: 'nango' })),
    };
    // The command reads the same settings from its config file, as a user's `nanoclaw run` does.
    await writeFile(path.join(root, 'nanoclaw.config.yaml'), toYaml(configFile));
    const resolved = resolveConfig(configFile, { env: {}, cwd: root, configPath: null });
    if ('errors' in resolved) throw new Error(resolved.errors.join('\n'));
    runtime = createRuntimeFromConfig(resolved.config, [], { logger: silentLogger() });
    const runner = new SkillRunner({
      config: resolved.config,
      catalog: await SkillCatalog.load(skillsDir),
      containers,
      tokenSync: runtime.tokenSync,
      sources: runtime.sources.registry,
      events: runtime.events,
      logger: runtime.logger,
    });
    await runner.ensureImage(AbortSignal.timeout(300_000));

    // Warm tokens: one sync through the source, then every run finds the files fresh.
    for (const provider of PROVIDERS) {
      nango.addConnection({ integration: provider, connectionId: 'main', endUserId: 'main' });
    }
    await runtime.tokenSync.syncMany(PROVIDERS.map((provider) => ({ owner: 'main', provider })));

    // The skill's own hardened container (mounts, tmpfs, init, limits) run bare: what Docker charges
    // for the hardening, apart from what nanoclaw adds around it.
    const skill = (await SkillCatalog.load(skillsDir)).get('noop');
    const hardenedOptions = toDockerCreateOptions(
      buildContainerSpec({
        manifest: skill,
        image: IMAGE,
        owner: 'main',
        runId: '00000000-0000-4000-8000-000000000000',
        args: [],
        tokensDir: await runtime.folder.ensureOwnerDir('main'),
        skillFilesDir: await new SkillSnapshots({ dataDir: resolved.config.dataDir }).prepare(
          skillsDir,
          'noop',
        ),
        tokenFolderGid: null,
        hostNetwork: 'none',
        process: currentProcess(),
        deadline: Date.now() + 3600_000,
      }),
    );

    const nanoclawRun = async () => {
      const started = performance.now();
      const result = await runner.run({ skill: 'noop', owner: 'main' });
      if (result.exitCode !== 0)
        throw new Error(`the no-op skill exited ${result.exitCode} (${result.reason})`);
      return performance.now() - started;
    };

    const commandEnv = { NANOCLAW_LOG_LEVEL: 'warn' };
    const runCommandInProcess = async () => {
      const started = performance.now();
      const result = await runCliInProcess(['run', 'noop'], { cwd: root, env: commandEnv });
      if (result.exitCode !== 0) throw new Error(`nanoclaw run exited ${result.exitCode}: ${result.stderr}`);
      return performance.now() - started;
    };
    const runCommandProcess = async () => {
      const started = performance.now();
      const result = await spawnCli(['run', 'noop'], { cwd: root, env: commandEnv, timeoutMs: 60_000 });
      if (result.exitCode !== 0) throw new Error(`nanoclaw run exited ${result.exitCode}: ${result.stderr}`);
      return performance.now() - started;
    };

    const ours: number[] = [];
    const command: number[] = [];
    const spawned: number[] = [];
    const bare: number[] = [];
    const hardened: number[] = [];
    const dockerCli: number[] = [];
    const contestants = [
      { run: () => dockerCliRun(hardenedOptions), times: dockerCli },
      { run: nanoclawRun, times: ours },
      { run: runCommandInProcess, times: command },
      { run: runCommandProcess, times: spawned },
      { run: () => bareDockerRun(docker, BARE_OPTIONS), times: bare },
      { run: () => bareDockerRun(docker, hardenedOptions), times: hardened },
    ];
    for (let round = 0; round < WARMUP; round++) for (const contestant of contestants) await contestant.run();
    nango.resetStats();
    const requestsBefore = nango.requests.length;
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order so none always follows another's clean-up.
      for (let index = 0; index < contestants.length; index++) {
        const contestant = contestants[(round + index) % contestants.length]!;
        contestant.times.push(await contestant.run());
      }
    }
    const sourceRequests = nango.requests.length - requestsBefore;

    const latencies: number[] = [];
    const unsubscribe = runtime.events.subscribe((event) => {
      if (event.type !== 'skill_output' || event.skill !== 'ticker') return;
      const writtenAt = Number(event.line);
      if (Number.isFinite(writtenAt)) latencies.push(wallClockMs() - writtenAt);
    });
    try {
      for (let run = 0; run < LATENCY_RUNS; run++) await runner.run({ skill: 'ticker', owner: 'main' });
    } finally {
      unsubscribe();
    }

    const oursMedian = median(ours);
    const commandMedian = median(command);
    const spawnedMedian = median(spawned);
    const bareMedian = median(bare);
    const ratio = oursMedian / bareMedian;
    const commandRatio = commandMedian / bareMedian;
    const dockerCliMedian = median(dockerCli);
    const processRatio = spawnedMedian / dockerCliMedian;
    return {
      name,
      rows: [
        {
          measure: `SkillRunner.run, no-op skill, ${PROVIDERS.length} warm providers (median of ${ROUNDS})`,
          value: ms(oursMedian),
          detail: `p95 ${ms(percentile(ours, 0.95))}`,
        },
        {
          measure: `nanoclaw run command in-process, same skill (median of ${ROUNDS})`,
          value: ms(commandMedian),
          detail: `p95 ${ms(percentile(command, 0.95))}; ${deltaMs(commandMedian - oursMedian)} over SkillRunner.run`,
        },
        {
          measure: `nanoclaw run as a process (the built CLI), same skill (median of ${ROUNDS})`,
          value: ms(spawnedMedian),
          detail: `p95 ${ms(percentile(spawned, 0.95))}; ${deltaMs(spawnedMedian - commandMedian)} over in-process`,
        },
        {
          measure: `bare dockerode create/start/wait/remove (median of ${ROUNDS})`,
          value: ms(bareMedian),
          detail: `p95 ${ms(percentile(bare, 0.95))}`,
        },
        {
          measure: `bare dockerode, the skill's hardened container spec (median of ${ROUNDS})`,
          value: ms(median(hardened)),
          detail: `p95 ${ms(percentile(hardened, 0.95))}; command / this: ${(commandMedian / median(hardened)).toFixed(3)}`,
        },
        {
          measure: 'ratio of medians, nanoclaw run command in-process / bare (goal <= 1.05)',
          value: commandRatio.toFixed(3),
          detail: `${commandRatio <= 1.05 ? 'meets' : 'misses'} the goal; ${deltaMs(commandMedian - bareMedian)}`,
        },
        {
          measure: `docker run --rm from the docker CLI, same image, command, mounts, no network (median of ${ROUNDS})`,
          value: ms(dockerCliMedian),
          detail: `p95 ${ms(percentile(dockerCli, 0.95))}`,
        },
        {
          measure: 'ratio of medians, nanoclaw run as a process / docker run --rm (goal <= 1.3)',
          value: processRatio.toFixed(3),
          detail: `${processRatio <= 1.3 ? 'meets' : 'misses'} the goal; ${deltaMs(spawnedMedian - dockerCliMedian)}`,
        },
        {
          measure: 'ratio of medians, SkillRunner.run / bare',
          value: ratio.toFixed(3),
          detail: deltaMs(oursMedian - bareMedian),
        },
        {
          measure: 'token source requests during the timed runs (warm: goal 0)',
          value: String(sourceRequests),
          detail: '',
        },
        {
          measure: `line written by the skill -> event at a subscriber (${latencies.length} lines)`,
          value: `median ${ms(median(latencies))}`,
          detail: `p95 ${ms(percentile(latencies, 0.95))}, max ${ms(Math.max(...latencies))}`,
        },
      ],
      notes: [
        'SkillRunner.run: pre-launch sync of 3 fresh token files (no source request), owner folder, hardened',
        'container (read-only root, tmpfs, init, limits, 2 read-only mounts), attach + line parsing, wait, removal.',
        'nanoclaw run command: runCli(["run", "noop"]) in this process: config file, runtime, skill catalog,',
        'Docker client, leftover clean-up, then the same run and the runtime closed; the process row is the built',
        'CLI (dist/bin) with Node\'s start-up. "bare" = the same image, command and network setting only;',
        '"docker run" = the docker CLI with the same image, command, mounts and no network.',
        `Rounds are interleaved (${ROUNDS} each after ${WARMUP} warm-up rounds); times are wall clock.`,
      ],
      metrics: {
        nanoclawRunMedianMs: oursMedian,
        runCommandMedianMs: commandMedian,
        runProcessMedianMs: spawnedMedian,
        bareDockerMedianMs: bareMedian,
        hardenedDockerMedianMs: median(hardened),
        ratio,
        commandRatio,
        ratioGoal: 1.05,
        dockerCliMedianMs: dockerCliMedian,
        processRatio,
        processRatioGoal: 1.3,
        lineToEventMedianMs: median(latencies),
        lineToEventP95Ms: percentile(latencies, 0.95),
        sourceRequestsDuringRuns: sourceRequests,
      },
    };
  } finally {
    await runtime?.close();
    await nango.close();
    await rm(root, { recursive: true, force: true });
  }
}
