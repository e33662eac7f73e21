import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { createRuntime } from '../../../src/app/runtime.js';
import { silentLogger } from '../../../src/log/logger.js';
import { TokenSourceRegistry, type TokenSource } from '../../../src/sources/token-source.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-runtime-close-'));
  await writeFile(
    path.join(dir, 'nanoclaw.config.yaml'),
    stringify({ nango: { secretKey: 'unused-here' }, providers: [{ name: 'github', source: 'nango' }] }),
  );
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('closing the runtime ends the source requests its syncs still run, before closing the sources', async () => {
  const order: string[] = [];
  let requestSignal: AbortSignal | null = null;
  const source: TokenSource = {
    kind: 'nango',
    fetchToken: ({ signal }) => {
      requestSignal = signal;
      return new Promise((_resolve, reject) => {
        signal.addEventListener(
          'abort',
          () => {
            order.push('request ended');
            reject(signal.reason as Error);
          },
          { once: true },
        );
      });
    },
    authorizationUrl: async () => null,
    disconnect: async () => {},
    close: async () => {
      order.push('source closed');
    },
  };
  const runtime = await createRuntime({
    cwd: dir,
    env: {},
    logger: silentLogger(),
    sources: { registry: new TokenSourceRegistry({ nango: source }), nango: null },
  });
  const caller = new AbortController();
  const sync = runtime.tokenSync.sync('main', 'github', { signal: caller.signal });
  await vi.waitFor(() => expect(requestSignal).not.toBeNull());
  // Ctrl-C: the command stops waiting at once; the request it started is the runtime's to end.
  caller.abort(new Error('interrupted'));
  expect(await sync).toMatchObject({ state: 'error', message: 'interrupted' });
  expect(requestSignal!.aborted).toBe(false);

  await runtime.close();

  expect(order).toEqual(['request ended', 'source closed']);
});
