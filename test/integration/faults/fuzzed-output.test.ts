import { randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntimeFromConfig, type Runtime } from '../../../src/app/runtime.js';
import { resolveConfig } from '../../../src/config/resolve-config.js';
import type { AuthRequiredEvent, NanoclawEvent } from '../../../src/events/types.js';
import { silentLogger } from '../../../src/log/logger.js';
import type { ContainerRuntime } from '../../../src/sandbox/container-runtime.js';
import { SkillCatalog } from '../../../src/sandbox/skill-catalog.js';
import { SkillRunner } from '../../../src/sandbox/skill-runner.js';
import {
  FakeContainerRuntime,
  type FakeContainerControls,
} from '../../support/docker-fake-container-runtime.js';
import { dockerForTests, TEST_BASE_IMAGE, TEST_SKILL_IMAGE } from '../../support/docker.js';
import {
  chunked,
  FUZZ_DECLARED,
  fuzzLines,
  LineDigest,
  OutputOracle,
  planRun,
  type FuzzChunk,
} from '../../support/fault-fuzz-output.js';
import { seededRandom, type SeededRandom } from '../../support/fault-random.js';
import { FakeNangoServer } from '../../support/fake-nango-server.js';

/**
 * 100,000 fuzzed output lines through the runner's real output path (line splitter, AUTH_REQUIRED
 * parser, prompts, events): nothing crashes, no line that is not a prompt by the contract becomes
 * one, every other line arrives intact and in order, and memory stays flat however much goes by.
 */

const RUNS = 4;
const LINES_PER_RUN = 25_000;
/** About one line in this many is huge: at, just past, or far past the 64 KiB cap. */
const HUGE_EVERY = 2_000;

const gc = (() => {
  v8.setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

function heapUsed(): number {
  return process.memoryUsage().heapUsed;
}

let dir: string;
let nango: FakeNangoServer;
let runtime: Runtime;
let catalog: SkillCatalog;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-fault-fuzz-'));
  nango = await FakeNangoServer.start();
  for (const integration of Object.keys(FUZZ_DECLARED))
    nango.addConnection({ integration, endUserId: 'main' });
  const skillsDir = path.join(dir, 'skills');
  await mkdir(path.join(skillsDir, 'fuzz'), { recursive: true });
  await writeFile(
    path.join(skillsDir, 'fuzz', 'skill.yaml'),
    stringify({
      name: 'fuzz',
      command: ['python3', '/opt/nanoclaw/skills/fuzz/emit.py'],
      providers: Object.entries(FUZZ_DECLARED).map(([name, scopes]) => ({ name, scopes })),
      timeout: 120,
    }),
  );
  await writeFile(path.join(skillsDir, 'fuzz', 'emit.py'), EMIT_SCRIPT);
  await chmod(dir, 0o755);
  await chmod(skillsDir, 0o755);
  await chmod(path.join(skillsDir, 'fuzz'), 0o755);
  await chmod(path.join(skillsDir, 'fuzz', 'emit.py'), 0o644);
  const resolved = resolveConfig(
    {
      dataDir: path.join(dir, 'data'),
      skillsDir,
      nango: { host: nango.url, secretKey: nango.secretKey, timeout: 5 },
      sandbox: { image: TEST_SKILL_IMAGE, baseImage: TEST_BASE_IMAGE, network: 'none' },
      providers: Object.keys(FUZZ_DECLARED).map((name) => ({ name, source: 'nango' })),
    },
    { env: {}, cwd: dir, configPath: null },
  );
  if ('errors' in resolved) throw new Error(resolved.errors.join('\n'));
  runtime = createRuntimeFromConfig(resolved.config, [], { logger: silentLogger() });
  catalog = await SkillCatalog.load(skillsDir);
});

afterAll(async () => {
  await runtime?.close();
  await nango?.close();
  await rm(dir, { recursive: true, force: true });
});

function runnerWith(containers: ContainerRuntime): SkillRunner {
  return new SkillRunner({
    config: runtime.config,
    catalog,
    containers,
    tokenSync: runtime.tokenSync,
    sources: runtime.sources.registry,
    events: runtime.events,
    logger: runtime.logger,
    stopGraceSeconds: 1,
  });
}

/** What one run reported, folded as it arrived (nothing kept per line). */
class RunObserver {
  readonly output = { stdout: new LineDigest(), stderr: new LineDigest() };
  readonly prompts: AuthRequiredEvent[] = [];
  readonly #unsubscribe: () => void;

  constructor(readonly runId: string) {
    this.#unsubscribe = runtime.events.subscribe((event: NanoclawEvent) => {
      if (!('runId' in event) || event.runId !== runId) return;
      if (event.type === 'skill_output') this.output[event.stream].add(event.line, event.truncated === true);
      if (event.type === 'auth_required') this.prompts.push(event);
    });
  }

  close(): void {
    this.#unsubscribe();
  }
}

/** Runs the fuzz skill once and checks what came out against the oracle. */
async function runAndCompare(runner: SkillRunner, oracle: OutputOracle, args: string[] = []): Promise<void> {
  const runId = randomUUID();
  const observer = new RunObserver(runId);
  try {
    const result = await runner.run({ skill: 'fuzz', owner: 'main', runId, args });
    expect(result.exitCode).toBe(0);
    expect(result.reason).toBe(oracle.prompts.length > 0 ? 'auth_required' : 'exited');
    expect(result.authRequired).toEqual(oracle.prompts);
    expect(observer.prompts.map(({ provider, scopes }) => ({ provider, scopes }))).toEqual(oracle.prompts);
    for (const stream of ['stdout', 'stderr'] as const) {
      expect({ stream, lines: observer.output[stream].lines }).toEqual({
        stream,
        lines: oracle.output[stream].lines,
      });
      expect(observer.output[stream].truncated).toBe(oracle.output[stream].truncated);
      expect(observer.output[stream].digest()).toBe(oracle.output[stream].digest());
    }
  } finally {
    observer.close();
  }
}

/** A fake container that writes the fuzzed chunks, yielding between them as a process would. */
function feeding(
  random: SeededRandom,
  lines: Iterable<FuzzChunk>,
  oracle: OutputOracle,
  onChunk: () => void,
): (container: FakeContainerControls) => Promise<void> {
  return async (container) => {
    for (const chunk of chunked(random, lines)) {
      oracle.feed(chunk);
      container.write(chunk.stream, chunk.data);
      onChunk();
      await new Promise((resolve) => setImmediate(resolve));
    }
    oracle.end();
    container.exit(0);
  };
}

describe('fuzzed skill output', () => {
  it(`${RUNS * LINES_PER_RUN} lines: no crash, no false prompt, every line intact, flat memory`, async () => {
    const random = seededRandom();
    const containers = new FakeContainerRuntime();
    const runner = runnerWith(containers);

    // A warm-up run loads every code path before the heap is measured.
    const warmOracle = new OutputOracle();
    containers.behaviour = feeding(
      random,
      fuzzLines(random, planRun(random, 500, true, 100)),
      warmOracle,
      () => {},
    );
    await runAndCompare(runner, warmOracle);

    gc();
    const baseline = heapUsed();
    // Live memory while output flows: collected first, so only what is still held counts.
    let livePeak = baseline;
    let chunks = 0;
    const sample = () => {
      if (++chunks % 1000 !== 0) return;
      gc();
      livePeak = Math.max(livePeak, heapUsed());
    };
    let inputBytes = 0;
    let lines = 0;
    let promptLines = 0;
    let truncated = 0;
    const prompts: string[] = [];
    for (let run = 0; run < RUNS; run++) {
      const oracle = new OutputOracle();
      const plan = planRun(random, LINES_PER_RUN, run % 2 === 1, HUGE_EVERY);
      containers.behaviour = feeding(random, fuzzLines(random, plan), oracle, sample);
      await runAndCompare(runner, oracle);
      // Only planted prompts (and lines that happen to be exactly like one) may prompt.
      expect(oracle.prompts.map((prompt) => prompt.provider).sort()).toEqual(
        [...new Set(plan.planted.values())].sort(),
      );
      inputBytes += oracle.inputBytes;
      lines += oracle.output.stdout.lines + oracle.output.stderr.lines + oracle.promptLines;
      promptLines += oracle.promptLines;
      truncated += oracle.output.stdout.truncated + oracle.output.stderr.truncated;
      prompts.push(...oracle.prompts.map((prompt) => prompt.provider));
    }
    gc();
    const retained = heapUsed() - baseline;
    const liveGrowth = livePeak - baseline;

    expect(lines).toBeGreaterThanOrEqual(RUNS * LINES_PER_RUN);
    expect(truncated).toBeGreaterThan(0);
    expect(containers.remaining).toEqual([]);
    // Nothing of the input is held: while it flows, the heap holds about a line or two (the longest
    // is 1 MiB), and afterwards only noise stays, however much went through.
    expect(inputBytes).toBeGreaterThan(8 * 1024 * 1024);
    expect(liveGrowth).toBeLessThan(inputBytes / 2);
    expect(retained).toBeLessThan(4 * 1024 * 1024);
    // eslint-disable-next-line no-console
    console.log(
      `fuzzed output (seed ${random.seed}): ${lines} lines, ${(inputBytes / 1024 / 1024).toFixed(1)} MiB in ${chunks} chunks, ` +
        `${truncated} truncated, ${promptLines} prompt lines -> prompts ${prompts.join(', ')}; live heap growth at most ${(liveGrowth / 1024 / 1024).toFixed(1)} MiB, ` +
        `retained ${(retained / 1024 / 1024).toFixed(2)} MiB after GC`,
    );
  }, 120_000);
});

/** Writes two files of fuzzed bytes to stdout and stderr in random pieces, flushing each. */
const EMIT_SCRIPT = String.raw`
import random, sys
seed = int(sys.argv[1])
rnd = random.Random(seed)
out = open("/opt/nanoclaw/skills/fuzz/stdout.bin", "rb").read()
err = open("/opt/nanoclaw/skills/fuzz/stderr.bin", "rb").read()
i = j = 0
while i < len(out) or j < len(err):
    if i < len(out) and (j >= len(err) or rnd.random() < 0.8):
        n = rnd.choice([1, 2, 3, rnd.randint(1, 8192)])
        sys.stdout.buffer.write(out[i:i + n]); sys.stdout.buffer.flush(); i += n
    else:
        n = rnd.choice([1, rnd.randint(1, 512)])
        sys.stderr.buffer.write(err[j:j + n]); sys.stderr.buffer.flush(); j += n
`;

const docker = await dockerForTests();

describe.skipIf(!docker.available)('fuzzed skill output from a real container', () => {
  it('5,000 lines written in random pieces by a Python skill arrive as the oracle says', async () => {
    if (!docker.available) return;
    const random = seededRandom();
    const plan = planRun(random, 5_000, true, 500);
    const streams = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    const oracle = new OutputOracle();
    for (const line of fuzzLines(random, plan)) {
      streams[line.stream].push(line.data);
      oracle.feed(line);
    }
    oracle.end();
    const skillDir = path.join(dir, 'skills', 'fuzz');
    for (const stream of ['stdout', 'stderr'] as const) {
      await writeFile(path.join(skillDir, `${stream}.bin`), Buffer.concat(streams[stream]), { mode: 0o644 });
    }
    await runAndCompare(runnerWith(docker.containers), oracle, [String(random.seed)]);
    // eslint-disable-next-line no-console
    console.log(
      `fuzzed output through a real container (seed ${random.seed}): ${oracle.output.stdout.lines + oracle.output.stderr.lines + oracle.promptLines} lines, ` +
        `${(oracle.inputBytes / 1024 / 1024).toFixed(1)} MiB`,
    );
  }, 60_000);
});
