import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinCallbackUrl } from '../../../src/sources/builtin/builtin-urls.js';
import { newBrowserBinding } from '../../../src/sources/builtin/pending-authorizations.js';
import { REPO_SKILLS_DIR } from '../../support/docker.js';
import { LarkStandIn } from '../../support/lark-server.js';
import { builtinSource, NEVER, PUBLIC_URL, temporaryDataDir } from '../builtin/fixture.js';
import { resolveConfig } from '../../../src/config/resolve-config.js';

/**
 * The lark-calendar skill's own behaviour against Lark's calendar v4 API, one layer below the
 * container test: its main.py runs with the host's python3 against the Lark stand-in on loopback
 * (LARK_API_BASE), with a user access token the stand-in issued through the built-in source.
 */

const MAIN_PY = path.join(REPO_SKILLS_DIR, 'lark-calendar', 'main.py');
const AUTH_REQUIRED_LINE = 'AUTH_REQUIRED:lark-calendar:calendar:calendar,offline_access';
const OWNER = 'ou_7d8a6e6df7621556ce0d21922b676706ccs';

let lark: LarkStandIn;
let tokensDir: string;
let accessToken: string;

function runSkill(args: string[]): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [MAIN_PY, ...args], {
      env: { PATH: process.env.PATH, NANOCLAW_TOKENS_DIR: tokensDir, LARK_API_BASE: lark.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (exitCode) => {
      expect(stdout + stderr).not.toContain(accessToken);
      resolve({ exitCode, stdout, stderr });
    });
  });
}

async function writeToken(token: string): Promise<void> {
  await writeFile(
    path.join(tokensDir, 'lark-calendar.json'),
    JSON.stringify({
      provider: 'lark-calendar',
      access_token: token,
      token_type: 'Bearer',
      expires_at: new Date(Date.now() + 3600_000).toISOString(),
      scopes: ['calendar:calendar', 'offline_access'],
      synced_at: new Date().toISOString(),
    }),
  );
}

beforeAll(async () => {
  lark = await LarkStandIn.start({
    redirectUris: [builtinCallbackUrl(PUBLIC_URL, 'lark-calendar')],
    openId: OWNER,
  });
  tokensDir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-lark-skill-'));
  await using data = await temporaryDataDir();
  const resolved = resolveConfig(
    { providers: [lark.providerEntry('lark-calendar')] },
    {
      env: { NANOCLAW_DATA_DIR: data.dir, NANOCLAW_PUBLIC_URL: PUBLIC_URL },
      cwd: data.dir,
      configPath: null,
    },
  );
  if ('errors' in resolved) throw new Error(resolved.errors.join('\n'));
  const source = builtinSource(resolved.config);
  const browserBinding = newBrowserBinding();
  const { redirectUrl } = await source.beginAuthorization({
    owner: OWNER,
    provider: 'lark-calendar',
    browserBinding,
    signal: NEVER,
  });
  const callback = new URL((await fetch(redirectUrl, { redirect: 'manual' })).headers.get('location')!);
  await source.completeAuthorization({
    provider: 'lark-calendar',
    query: callback.searchParams,
    browserBinding,
    signal: NEVER,
  });
  accessToken = (await source.store.read(OWNER, 'lark-calendar'))!.accessToken!;
  await source.close();
});

afterAll(async () => {
  await lark?.close();
  await rm(tokensDir, { recursive: true, force: true });
});

describe('the lark-calendar skill against the Lark stand-in', () => {
  it('prints only the AUTH_REQUIRED line without a token', async () => {
    expect(await runSkill([])).toEqual({ exitCode: 0, stdout: `${AUTH_REQUIRED_LINE}\n`, stderr: '' });
  });

  it("books an event on the owner's primary calendar and lists it", async () => {
    await writeToken(accessToken);
    expect(await runSkill([])).toEqual({
      exitCode: 0,
      stdout: 'No events in the next 7 days.\n',
      stderr: '',
    });
    const booked = await runSkill(['book', '2030-01-02T09:00:00Z', '30', 'Design', 'review']);
    expect(booked).toMatchObject({ exitCode: 0, stderr: '' });
    expect(booked.stdout).toMatch(/^Booked 2030-01-02T09:00:00Z {2}Design review \(\w+_0\)\n$/);
    expect(lark.events).toEqual([
      expect.objectContaining({
        summary: 'Design review',
        start_time: { timestamp: String(Date.parse('2030-01-02T09:00:00Z') / 1000) },
        end_time: { timestamp: String(Date.parse('2030-01-02T09:30:00Z') / 1000) },
      }),
    ]);
    expect(await runSkill([])).toEqual({
      exitCode: 0,
      stdout: '2030-01-02T09:00:00Z  Design review\n',
      stderr: '',
    });
    expect(lark.calendarRequests.every((request) => request.authorized)).toBe(true);
    expect(lark.calendarRequests.filter((request) => request.path.endsWith('/primary'))[0]?.method).toBe(
      'POST',
    );
  });

  it('prints the AUTH_REQUIRED line when Lark answers that the token is invalid', async () => {
    await writeToken('u-not-a-token-lark-knows');
    expect(await runSkill([])).toEqual({ exitCode: 0, stdout: `${AUTH_REQUIRED_LINE}\n`, stderr: '' });
    expect(lark.calendarRequests.at(-1)).toMatchObject({ authorized: false });
  });
});
