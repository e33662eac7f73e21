import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoProviderEntries } from '../../../src/demo/demo-providers.js';
import { startTestOidcServer, type DemoOAuthServer } from '../../support/oidc-server.js';
import { recordSecret } from '../../support/secret-scan.js';
import {
  builtinSource,
  connectOwner,
  DEMO_CALLBACK,
  demoConfig,
  PUBLIC_URL,
  temporaryDataDir,
} from './fixture.js';

const WORKER = fileURLToPath(new URL('./refresh-worker.ts', import.meta.url));
const REPOSITORY = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * How long the server holds each token request. Both workers read the grant well within it, so
 * without the cross-process lock both would always send the refresh, and the test could not pass by
 * one worker simply finishing before the other began.
 */
const TOKEN_ENDPOINT_DELAY_MS = 500;

let server: DemoOAuthServer;

beforeAll(async () => {
  server = await startTestOidcServer({
    redirectUris: [DEMO_CALLBACK],
    tokenEndpointDelayMs: TOKEN_ENDPOINT_DELAY_MS,
  });
});
afterAll(() => server.close());

interface Worker {
  child: ChildProcessWithoutNullStreams;
  ready: Promise<void>;
  result: Promise<{ status: string; code: string | null; tokenHash: string | null }>;
}

function startWorker(settings: object): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    cwd: REPOSITORY,
    env: { ...process.env, NANOCLAW_TEST_WORKER: JSON.stringify(settings) },
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    let newline: number;
    while ((newline = stdout.indexOf('\n')) >= 0) {
      lines.push(stdout.slice(0, newline));
      stdout = stdout.slice(newline + 1);
      waiters.splice(0).forEach((wake) => wake());
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const line = async (index: number): Promise<string> => {
    while (lines.length <= index) {
      const next = new Promise<void>((resolve) => waiters.push(resolve));
      const code = await Promise.race([next.then(() => undefined), exited]);
      if (code !== undefined && lines.length <= index) {
        throw new Error(`worker exited (${code}) before answering: ${stderr}`);
      }
    }
    return lines[index]!;
  };
  return {
    child,
    ready: line(0).then((text) => expect(text).toBe('ready')),
    result: line(1).then((text) => JSON.parse(text)),
  };
}

describe('two processes refreshing the same grant', () => {
  it('make exactly one token request and hand out the same token', async () => {
    await using data = await temporaryDataDir();
    const config = demoConfig(server, { dataDir: data.dir });
    const source = builtinSource(config);
    await connectOwner(source, 'alice');
    // Within the refresh margin for both processes; the refreshed token will be well outside it.
    const grant = (await source.store.read('alice', 'demo'))!;
    await source.store.write({
      ...grant,
      obtainedAt: new Date(Date.now() - 3_600_000),
      expiresAt: new Date(Date.now() + 30_000),
      generation: grant.generation + 1,
    });
    const settings = {
      dataDir: data.dir,
      publicUrl: PUBLIC_URL,
      owner: 'alice',
      provider: demoProviderEntries(server)[0],
    };
    const workers = [startWorker(settings), startWorker(settings)];
    try {
      await Promise.all(workers.map((worker) => worker.ready));
      const before = server.tokenRequests.length;
      for (const worker of workers) worker.child.stdin.write('go\n');
      const results = await Promise.all(workers.map((worker) => worker.result));

      expect(
        server.tokenRequests.slice(before).map((request) => [request.grantType, request.status]),
      ).toEqual([['refresh_token', 200]]);
      const stored = (await source.store.read('alice', 'demo'))!;
      // The workers stored these: the scan's hooks in this process never saw them.
      recordSecret(stored.accessToken!);
      recordSecret(stored.refreshToken!);
      const storedHash = createHash('sha256').update(stored.accessToken!).digest('hex');
      expect(results).toEqual([
        { status: 'token', code: null, tokenHash: storedHash },
        { status: 'token', code: null, tokenHash: storedHash },
      ]);
      // The test's write, the mark of the refresh as sent, and its answer.
      expect(stored).toMatchObject({ status: 'active', generation: grant.generation + 3 });
      expect(stored.refreshToken).not.toBe(grant.refreshToken);
    } finally {
      for (const worker of workers) worker.child.kill();
      await source.close();
    }
  });
});
