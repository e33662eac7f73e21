import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/run-cli.js';
import { demoProviderEntries } from '../../../src/demo/demo-providers.js';
import { silentLogger } from '../../../src/log/logger.js';
import { BuiltinDaemon } from '../../support/builtin-daemon.js';
import { spawnCli } from '../../support/cli.js';

// The relay against a real daemon (built-in source, real oidc-provider), in this process and as a
// real process reading a pipe.
let daemon: BuiltinDaemon;
let dir: string;

beforeAll(async () => {
  daemon = await BuiltinDaemon.start();
  dir = await mkdtemp(path.join(tmpdir(), 'nanoclaw-relay-'));
});

afterAll(async () => {
  await daemon?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

class Sink extends Writable {
  chunks: Buffer[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.chunks.push(Buffer.from(chunk));
    callback();
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** `nanoclaw relay <args>` in this process, fed `input` in the given pieces. */
async function relay(args: string[], pieces: (string | Buffer)[], env: Record<string, string> = {}) {
  const stdin = new PassThrough();
  const stdout = new Sink();
  const stderr = new Sink();
  const running = runCli(
    ['relay', ...args],
    {
      stdin,
      stdout,
      stderr,
      env: {
        NANOCLAW_DATA_DIR: path.join(dir, 'data'),
        NANOCLAW_PUBLIC_URL: daemon.url,
        NANOCLAW_CONFIG: path.join(dir, 'none.yaml'),
        ...env,
      },
      cwd: dir,
      signal: new AbortController().signal,
    },
    { logger: silentLogger() },
  );
  for (const piece of pieces) stdin.write(piece);
  stdin.end();
  const exitCode = await running;
  return { exitCode, stdout: stdout.bytes, stderr: stderr.bytes.toString('utf8') };
}

const config = () => ({ providers: demoProviderEntries(daemon.oauth) });

describe('nanoclaw relay', () => {
  beforeAll(async () => {
    const { writeFile } = await import('node:fs/promises');
    const { stringify } = await import('yaml');
    await writeFile(path.join(dir, 'none.yaml'), stringify(config()));
  });

  it('copies its input through byte for byte and prints a link for a declared provider', async () => {
    const binary = Buffer.from([0, 1, 2, 0xff, 0xfe, 10]);
    const pieces = [
      'starting\nAUTH_REQ',
      'UIRED:demo:openid\n',
      binary,
      'AUTH_REQUIRED:gmail\nlast line, no newline',
    ];
    const result = await relay(['--owner', 'alice', '--provider', 'demo', '--skill', 'agent'], pieces);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.equals(Buffer.concat(pieces.map((piece) => Buffer.from(piece))))).toBe(true);
    expect(result.stderr).toBe(
      `nanoclaw: demo needs authorization for owner alice: ${daemon.url}/auth/oauth/demo/start?owner=alice\n`,
    );
  });

  it('exits 3 at the first prompt with --exit-on-prompt, and 0 without a prompt', async () => {
    const prompted = await relay(
      ['--owner', 'alice', '--provider', 'demo', '--exit-on-prompt'],
      ['AUTH_REQUIRED:demo\n'],
    );
    expect(prompted.exitCode).toBe(3);
    const quiet = await relay(['--owner', 'alice', '--provider', 'demo', '--exit-on-prompt'], ['hello\n']);
    expect(quiet.exitCode).toBe(0);
    expect(quiet.stderr).toBe('');
  });

  it('posts prompts to the daemon at NANOCLAW_URL, whose page shows them', async () => {
    const before = daemon.events.length;
    const result = await relay(
      ['--owner', 'bob', '--provider', 'demo', '--skill', 'agent'],
      ['AUTH_REQUIRED:demo\n'],
      {
        NANOCLAW_URL: daemon.url,
        NANOCLAW_API_TOKEN: daemon.daemon.apiToken.token,
      },
    );
    expect(result.exitCode).toBe(0);
    expect(daemon.events.slice(before)).toContainEqual(
      expect.objectContaining({ type: 'auth_required', owner: 'bob', provider: 'demo', skill: 'agent' }),
    );
    expect(result.stderr).toContain(`${daemon.url}/auth/oauth/demo/start?owner=bob`);
  });

  it('falls back to a link when the daemon refuses its token', async () => {
    const result = await relay(['--owner', 'bob', '--provider', 'demo'], ['AUTH_REQUIRED:demo\n'], {
      NANOCLAW_URL: daemon.url,
      NANOCLAW_API_TOKEN: 'not-the-token-at-all',
    });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toContain('DAEMON_REFUSED');
    expect(result.stderr).toContain(
      `demo needs authorization for owner bob: ${daemon.url}/auth/oauth/demo/start?owner=bob`,
    );
    expect(result.stderr).not.toContain('not-the-token-at-all');
  });

  it.each([
    // The API token would cross the network in clear text.
    ['http://agent-host.invalid:3000', { NANOCLAW_API_TOKEN: 'a-token-for-another-host-1' }],
    // A daemon on another host never gets this machine's own api-token file.
    ['https://agent-host.invalid', {}],
  ])('refuses NANOCLAW_URL=%s before it sends any token (exit 2)', async (url, extra) => {
    await mkdir(path.join(dir, 'data'), { recursive: true });
    await writeFile(path.join(dir, 'data', 'api-token'), 'this-machines-own-api-token-9f1\n');
    const result = await relay(['--owner', 'alice', '--provider', 'demo'], ['AUTH_REQUIRED:demo\n'], {
      NANOCLAW_URL: url,
      ...extra,
    });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/NANOCLAW_URL/);
    expect(result.stderr).not.toContain('a-token-for-another-host-1');
    expect(result.stderr).not.toContain('this-machines-own-api-token-9f1');
    expect(result.stdout.length).toBe(0);
  });

  it.each([
    [['--owner', 'alice'], /--provider/],
    [['--owner', 'alice', '--provider', 'gmail'], /provider "gmail" is not configured/],
    [['--owner', '../x', '--provider', 'demo'], /invalid owner id/],
    [['--provider', 'demo'], /--owner/],
  ])('refuses %j with exit 2', async (args, message) => {
    const result = await relay(args, ['AUTH_REQUIRED:demo\n']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout.length).toBe(0);
  });

  it('works as a process reading a pipe', async () => {
    const result = await spawnCli(['relay', '--owner', 'carol', '--provider', 'demo'], {
      cwd: dir,
      env: {
        NANOCLAW_CONFIG: path.join(dir, 'none.yaml'),
        NANOCLAW_DATA_DIR: path.join(dir, 'data'),
        NANOCLAW_PUBLIC_URL: daemon.url,
      },
      input: 'one\nAUTH_REQUIRED:demo:openid\ntwo\n',
    });
    expect(result).toEqual({
      exitCode: 0,
      stdout: 'one\nAUTH_REQUIRED:demo:openid\ntwo\n',
      stderr: `nanoclaw: demo needs authorization for owner carol: ${daemon.url}/auth/oauth/demo/start?owner=carol\n`,
    });
  });
});
