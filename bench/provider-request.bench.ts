/**
 * CPU per refresh on the client side: N refreshes, 10 at a time, through the real
 * `Oauth4webapiProtocol.refresh` against a token endpoint in another process, once with Node's global
 * `fetch` (undici) and once with the built-in source's node:http client, in the same run, twice each in
 * alternating order. A refresh wave is bounded by the host's CPU, so CPU per refresh is the number
 * that counts; the ratio is the node:http client's CPU against fetch's.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Oauth4webapiProtocol } from '../src/sources/builtin/oauth4webapi-protocol.js';
import type { AuthorizationServerMetadata } from '../src/sources/builtin/oauth-protocol.js';
import { ProviderHttp, type ProviderFetch } from '../src/sources/builtin/provider-fetch.js';
import type { BenchmarkResult } from './run.js';

const REFRESHES = Number(process.env.NANOCLAW_BENCH_REFRESHES ?? 3000);
const CONCURRENCY = 10;
const WARM_UP = 300;
const ENDPOINT = fileURLToPath(new URL('./support/token-endpoint.ts', import.meta.url));

interface Measured {
  cpuMs: number;
  wallMs: number;
}

async function refreshWave(fetch: ProviderFetch, server: AuthorizationServerMetadata, count: number) {
  const protocol = new Oauth4webapiProtocol({ fetch });
  const client = {
    clientId: 'bench',
    clientSecret: 'bench-secret',
    authMethod: 'client_secret_basic' as const,
  };
  const signal = new AbortController().signal;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next += 1;
      await protocol.refresh(server, client, `refresh-token-${next}`, signal);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

async function measure(fetch: ProviderFetch, server: AuthorizationServerMetadata): Promise<Measured> {
  await refreshWave(fetch, server, WARM_UP);
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await refreshWave(fetch, server, REFRESHES);
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const used = process.cpuUsage(cpu);
  return { cpuMs: (used.user + used.system) / 1000, wallMs };
}

export default async function providerRequestBenchmark(): Promise<BenchmarkResult> {
  const endpoint = spawn(process.execPath, ['--import', 'tsx', ENDPOINT], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const ended = new Promise((resolve) => endpoint.once('exit', resolve));
  const http = new ProviderHttp();
  try {
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: endpoint.stdout }).once('line', resolve);
      endpoint.once('exit', (code) => reject(new Error(`the token endpoint exited (${code})`)));
    });
    const server: AuthorizationServerMetadata = {
      issuer: url,
      authorizationEndpoint: null,
      tokenEndpoint: `${url}/token`,
      revocationEndpoint: null,
      issParameterSupported: false,
      document: {},
    };
    const clients: Array<[string, ProviderFetch]> = [
      ['global fetch (undici)', globalThis.fetch],
      ['node:http client', http.fetch],
    ];
    const runs = new Map<string, Measured[]>(clients.map(([name]) => [name, []]));
    for (const order of [clients, [...clients].reverse(), clients, [...clients].reverse()]) {
      for (const [name, fetch] of order) runs.get(name)!.push(await measure(fetch, server));
    }
    const best = (name: string) => {
      const measured = runs.get(name)!;
      return {
        cpuMs: Math.min(...measured.map((run) => run.cpuMs)),
        wallMs: Math.min(...measured.map((run) => run.wallMs)),
      };
    };
    const baseline = best(clients[0]![0]);
    const rows = clients.map(([name]) => {
      const { cpuMs, wallMs } = best(name);
      return {
        client: name,
        refreshes: String(REFRESHES),
        'CPU per refresh': `${(cpuMs / REFRESHES).toFixed(3)} ms`,
        'vs fetch': `${(cpuMs / baseline.cpuMs).toFixed(2)}x`,
        'wall time': `${(wallMs / 1000).toFixed(2)} s`,
      };
    });
    const clientBest = best(clients[1]![0]);
    return {
      name: 'provider-request',
      rows,
      notes: [
        `${CONCURRENCY} refreshes at a time through Oauth4webapiProtocol.refresh; the token endpoint runs in another process on 127.0.0.1`,
        `CPU of this process only (the client side), best of ${runs.get(clients[0]![0])!.length} runs each after ${WARM_UP} warm-up refreshes, runs alternating`,
      ],
      metrics: {
        refreshes: REFRESHES,
        concurrency: CONCURRENCY,
        fetchCpuMsPerRefresh: baseline.cpuMs / REFRESHES,
        clientCpuMsPerRefresh: clientBest.cpuMs / REFRESHES,
        cpuRatio: clientBest.cpuMs / baseline.cpuMs,
        runs: Object.fromEntries(runs),
      },
    };
  } finally {
    http.close();
    endpoint.stdin.end();
    await ended;
  }
}
