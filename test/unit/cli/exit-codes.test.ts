import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../../../src/cli/run-cli.js';
import { silentLogger } from '../../../src/log/logger.js';
import { TokenSourceRegistry, type TokenSource } from '../../../src/sources/token-source.js';

class TextSink extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

const OLD_TOKEN = 'old-access-token-kept-through-ctrl-c';

/** A source whose every request waits until it is aborted, and says when one has started. */
function hangingSource(onRequest: () => void): TokenSource {
  return {
    kind: 'nango',
    fetchToken({ signal }) {
      onRequest();
      return new Promise((_resolve, reject) => {
        const fail = () => reject(signal.reason as Error);
        if (signal.aborted) fail();
        else signal.addEventListener('abort', fail, { once: true });
      });
    },
    async authorizationUrl() {
      return null;
    },
    async disconnect() {},
    async close() {},
  };
}

let dir: string;

async function writeSkill(name: string, yaml: string): Promise<void> {
  await mkdir(path.join(dir, 'skills', name), { recursive: true });
  await writeFile(path.join(dir, 'skills', name, 'skill.yaml'), yaml);
}

async function nanoclaw(
  args: string[],
  options: { signal?: AbortSignal; source?: TokenSource } = {},
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const stdout = new TextSink();
  const stderr = new TextSink();
  const exitCode = await runCli(
    args,
    { stdout, stderr, env: {}, cwd: dir, signal: options.signal ?? new AbortController().signal },
    {
      logger: silentLogger(),
      ...(options.source
        ? { sources: { registry: new TokenSourceRegistry({ nango: options.source }), nango: null } }
        : {}),
    },
  );
  return { exitCode, stdout: stdout.text, stderr: stderr.text };
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-exit-codes-'));
  await writeFile(
    path.join(dir, 'nanoclaw.config.yaml'),
    stringify({
      nango: { secretKey: 'unused-in-these-tests' },
      providers: [{ name: 'github', source: 'nango' }],
    }),
  );
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('exit code 2 for what the user fixes in the command line, config or skills folder', () => {
  it('an unknown skill', async () => {
    const run = await nanoclaw(['run', 'no-such-skill']);
    expect(run.stderr).toContain('skill "no-such-skill" not found');
    expect(run.stderr).toContain('(UNKNOWN_SKILL)');
    expect(run.exitCode).toBe(2);
  });

  it('a skill whose manifest is invalid, with the problem named', async () => {
    await writeSkill('broken', 'name: broken\ncommand: []\n');
    const run = await nanoclaw(['run', 'broken', '--json']);
    expect(JSON.parse(run.stdout)).toMatchObject({
      error: { code: 'UNKNOWN_SKILL', message: expect.stringContaining('command: expected at least') },
    });
    expect(run.exitCode).toBe(2);
  });
});

describe('Ctrl-C during sync', () => {
  let tokenFile: string;
  beforeEach(async () => {
    tokenFile = path.join(dir, 'data', 'tokens', 'main', 'github.json');
    await mkdir(path.dirname(tokenFile), { recursive: true });
    // Expired, so the sync has to ask the source.
    await writeFile(
      tokenFile,
      JSON.stringify({
        provider: 'github',
        access_token: OLD_TOKEN,
        token_type: 'Bearer',
        expires_at: new Date(Date.now() - 60_000).toISOString(),
        scopes: [],
        synced_at: new Date(Date.now() - 3600_000).toISOString(),
      }),
    );
  });

  /** Runs `nanoclaw <args>` and presses Ctrl-C once the source was asked. */
  function interruptedSync(args: string[]) {
    const controller = new AbortController();
    return nanoclaw(args, {
      signal: controller.signal,
      source: hangingSource(() => controller.abort(new Error('interrupted'))),
    });
  }

  it('exits 130 and says the sync was interrupted, keeping the token file', async () => {
    const before = await readFile(tokenFile, 'utf8');
    const run = await interruptedSync(['sync']);
    expect(run.exitCode).toBe(130);
    expect(run.stderr).toBe(
      'nanoclaw: interrupted (Ctrl-C): the sync stopped before it was done; token files already written ' +
        'are kept and the others are unchanged (nanoclaw status shows them) (INTERRUPTED)\n',
    );
    expect(run.stdout).toBe('');
    expect(await readFile(tokenFile, 'utf8')).toBe(before);
  });

  it('says so in JSON too', async () => {
    const run = await interruptedSync(['sync', '--json']);
    expect(run.exitCode).toBe(130);
    expect(JSON.parse(run.stdout)).toEqual({
      error: { code: 'INTERRUPTED', message: expect.stringContaining('the sync stopped before it was done') },
    });
    expect(run.stdout).not.toContain(OLD_TOKEN);
  });
});
