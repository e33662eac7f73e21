import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { REPO_SKILLS_DIR } from '../../support/docker.js';
import { recordSecret } from '../../support/secret-scan.js';

/**
 * The reference skill's own behaviour against the Calendar API, one layer below the container
 * tests: its `main.py` (standard library only) runs with the host's python3 and talks to a real
 * HTTP server on loopback through GOOGLE_CALENDAR_API_BASE.
 */

const MAIN_PY = path.join(REPO_SKILLS_DIR, 'google-calendar', 'main.py');
const AUTH_REQUIRED_LINE = 'AUTH_REQUIRED:google-calendar:calendar,calendar.events';

interface SeenRequest {
  method: string;
  pathname: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
}

interface ScriptedAnswer {
  status: number;
  body: unknown;
}

/** A Calendar API on 127.0.0.1 that records each request and answers what the test scripted. */
class FakeCalendarApi {
  readonly requests: SeenRequest[] = [];
  answer: ScriptedAnswer = { status: 200, body: { items: [] } };

  readonly #server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    this.requests.push({
      method: request.method ?? '',
      pathname: url.pathname,
      query: url.searchParams,
      headers: request.headers,
    });
    response.writeHead(this.answer.status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(this.answer.body));
  });

  /** The API base the skill is pointed at, with a path like Google's. */
  base = '';

  static async start(): Promise<FakeCalendarApi> {
    const api = new FakeCalendarApi();
    await new Promise<void>((resolve, reject) => {
      api.#server.once('error', reject);
      api.#server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = api.#server.address() as AddressInfo;
    api.base = `http://127.0.0.1:${port}/calendar/v3`;
    return api;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

interface SkillRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** Runs main.py as a process with only the variables it reads (and PATH). */
function runSkill(env: Record<string, string>): Promise<SkillRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [MAIN_PY], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (exitCode, signal) => {
      clearTimeout(timer);
      if (signal) reject(new Error(`main.py was killed by ${signal}\n${stderr}`));
      else resolve({ exitCode, stdout, stderr });
    });
  });
}

describe('the reference skill against a Calendar API on loopback', () => {
  let api: FakeCalendarApi;
  let tokensDir: string;
  const token = 'ya29.reference-skill-access-token-4f1c9e';
  recordSecret(token);

  beforeAll(async () => {
    api = await FakeCalendarApi.start();
  });

  afterAll(async () => {
    await api?.close();
  });

  beforeEach(async () => {
    tokensDir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-reference-skill-'));
    api.requests.length = 0;
    api.answer = { status: 200, body: { items: [] } };
  });

  afterEach(async () => {
    await rm(tokensDir, { recursive: true, force: true });
  });

  async function writeTokenFile(expiresAt: Date): Promise<void> {
    await writeFile(
      path.join(tokensDir, 'google-calendar.json'),
      JSON.stringify({
        provider: 'google-calendar',
        access_token: token,
        token_type: 'Bearer',
        expires_at: expiresAt.toISOString(),
        scopes: ['calendar', 'calendar.events'],
        synced_at: new Date().toISOString(),
      }),
    );
  }

  /** Runs the skill; whatever happens, its output never holds the token. */
  async function run(): Promise<SkillRun> {
    const result = await runSkill({ NANOCLAW_TOKENS_DIR: tokensDir, GOOGLE_CALENDAR_API_BASE: api.base });
    expect(result.stdout).not.toContain(token);
    expect(result.stderr).not.toContain(token);
    return result;
  }

  it('lists upcoming events with the bearer token, asking for upcoming single events in order', async () => {
    await writeTokenFile(new Date(Date.now() + 3600_000));
    api.answer = {
      status: 200,
      body: {
        items: [
          { summary: 'Stand-up', start: { dateTime: '2030-01-02T09:00:00Z' } },
          { summary: 'Holiday', start: { date: '2030-01-03' } },
          { start: { dateTime: '2030-01-04T10:00:00Z' } },
        ],
      },
    };
    const startedAt = Date.now();

    const result = await run();

    expect(result).toMatchObject({ exitCode: 0, stderr: '' });
    expect(result.stdout.trimEnd().split('\n')).toEqual([
      '2030-01-02T09:00:00Z  Stand-up',
      '2030-01-03  Holiday',
      '2030-01-04T10:00:00Z  (no title)',
    ]);

    expect(api.requests).toHaveLength(1);
    const [request] = api.requests;
    expect(request?.method).toBe('GET');
    // The override base keeps its path; the skill appends the Calendar API's own.
    expect(request?.pathname).toBe('/calendar/v3/calendars/primary/events');
    expect(request?.headers.authorization).toBe(`Bearer ${token}`);
    expect(request?.query.get('singleEvents')).toBe('true');
    expect(request?.query.get('orderBy')).toBe('startTime');
    const timeMin = Date.parse(request?.query.get('timeMin') ?? '');
    // "Upcoming" means from now: within the run, to the second the skill rounds to.
    expect(timeMin).toBeGreaterThanOrEqual(Math.floor(startedAt / 1000) * 1000);
    expect(timeMin).toBeLessThanOrEqual(Date.now());
  });

  it('says so when the calendar has no upcoming events', async () => {
    await writeTokenFile(new Date(Date.now() + 3600_000));

    const result = await run();

    expect(result).toMatchObject({ exitCode: 0, stdout: 'No upcoming events.\n', stderr: '' });
    expect(api.requests).toHaveLength(1);
  });

  it('prints only the AUTH_REQUIRED line for an expired token, without calling the API', async () => {
    await writeTokenFile(new Date(Date.now() - 60_000));

    const result = await run();

    expect(result).toEqual({ exitCode: 0, stdout: `${AUTH_REQUIRED_LINE}\n`, stderr: '' });
    expect(api.requests).toEqual([]);
  });

  it('prints only the AUTH_REQUIRED line when the API rejects the token with 401', async () => {
    await writeTokenFile(new Date(Date.now() + 3600_000));
    api.answer = {
      status: 401,
      body: { error: { code: 401, message: 'Request had invalid authentication credentials.' } },
    };

    const result = await run();

    expect(result).toEqual({ exitCode: 0, stdout: `${AUTH_REQUIRED_LINE}\n`, stderr: '' });
    expect(api.requests).toHaveLength(1);
    expect(api.requests[0]?.headers.authorization).toBe(`Bearer ${token}`);
  });

  it('fails with exit 1 and a message on stderr for a 500, never naming the token', async () => {
    await writeTokenFile(new Date(Date.now() + 3600_000));
    api.answer = { status: 500, body: { error: { code: 500, message: 'Backend Error' } } };

    const result = await run();

    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('google-calendar: Calendar API returned HTTP 500: Backend Error\n');
    expect(api.requests).toHaveLength(1);
  });

  it('does not repeat the token when the API echoes it back in an error', async () => {
    await writeTokenFile(new Date(Date.now() + 3600_000));
    api.answer = { status: 500, body: { error: { code: 500, message: `bad request from Bearer ${token}` } } };

    const result = await run();

    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(
      'google-calendar: Calendar API returned HTTP 500: bad request from Bearer [redacted]\n',
    );
  });
});
