import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium, RESULTS_DIR } from '../support/browser.js';
import { SkillCatalog } from '../../src/sandbox/skill-catalog.js';
import type { RunRequest, RunResult } from '../../src/sandbox/skill-runner.js';
import { FakeNangoConnectUi } from '../support/fake-nango-connect-ui.js';
import { fakeRunnerPort } from '../support/fake-runner-port.js';
import { FakeNangoServer } from '../support/fake-nango-server.js';
import { TestDaemon, waitFor } from '../integration/web/daemon-harness.js';

const haveChromium = chromiumAvailable();

let nango: FakeNangoServer;
let connectUi: FakeNangoConnectUi;
let daemon: TestDaemon;
let browser: Browser;
let skillsDir: string;
/** Every browser context a test opened, closed after it. */
const contexts: BrowserContext[] = [];
/**
 * Requests the pages tried to send anywhere but this machine. The page must work with no internet:
 * each is aborted, and after each test the list must be empty.
 */
const outsideRequests = new Set<string>();

/** Plays a run on the event bus as the real runner would, a line at a time, without Docker. */
const scriptedRunner = fakeRunnerPort(async (request: RunRequest): Promise<RunResult> => {
  const base = { owner: request.owner, skill: request.skill, runId: request.runId! };
  const events = daemon.runtime.events;
  const pause = () => new Promise((resolve) => setTimeout(resolve, 100));
  events.emit({ type: 'skill_started', ...base });
  for (const line of ['fetching events…', `args: ${(request.args ?? []).join(',')}`]) {
    await pause();
    events.emit({ type: 'skill_output', ...base, stream: 'stdout', line });
  }
  await pause();
  events.emit({ type: 'skill_exited', ...base, exitCode: 0, reason: 'exited' });
  return { ...base, exitCode: 0, reason: 'exited', authRequired: [] };
});

beforeAll(async () => {
  if (!haveChromium) return;
  nango = await FakeNangoServer.start();
  connectUi = await FakeNangoConnectUi.start(nango);
  skillsDir = await mkdtemp(path.join(tmpdir(), 'nanoclaw-browser-skills-'));
  await mkdir(path.join(skillsDir, 'calendar-digest'));
  await writeFile(
    path.join(skillsDir, 'calendar-digest', 'skill.yaml'),
    "name: calendar-digest\ncommand: ['python3', 'main.py']\nproviders:\n  - name: google-calendar\n",
  );
  daemon = await TestDaemon.start({
    nango,
    env: { NANGO_CONNECT_URL: connectUi.url },
    config: {
      nango: { connectApiUrl: nango.url },
      providers: [
        { name: 'google-calendar', scopes: ['calendar.readonly'] },
        { name: 'github', scopes: ['repo'] },
      ],
    },
    daemon: { skills: { catalog: await SkillCatalog.load(skillsDir), runner: scriptedRunner } },
  });
  browser = await launchChromium();
});

afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close();
  const outside = [...outsideRequests];
  outsideRequests.clear();
  expect(outside).toEqual([]);
});

afterAll(async () => {
  if (!haveChromium) return;
  await browser?.close();
  await daemon?.close();
  await connectUi?.close();
  await nango?.close();
  if (skillsDir) await rm(skillsDir, { recursive: true, force: true });
});

const tokenFile = (owner: string, provider: string) =>
  path.join(daemon.dir, 'data', 'tokens', owner, `${provider}.json`);

/** This machine: the daemon, the fake Nango and its Connect UI all listen on loopback. */
function isLocal(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  if (protocol === 'data:' || protocol === 'blob:' || protocol === 'about:') return true;
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
}

/**
 * A fresh browser (its own cookies) logged in to the page through a login link, with every request
 * to anywhere but loopback aborted and recorded, and the page's errors collected.
 */
async function openPage(): Promise<{ page: Page; consoleErrors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  contexts.push(context);
  await context.route('**/*', (route) => {
    const request = route.request();
    if (isLocal(request.url())) return route.continue();
    outsideRequests.add(`${request.method()} ${request.url()}`);
    return route.abort('blockedbyclient');
  });
  // Also what a route might not see (a request from a worker, a failed one).
  context.on('request', (request) => {
    if (!isLocal(request.url())) outsideRequests.add(`${request.method()} ${request.url()}`);
  });
  context.on('requestfailed', (request) => {
    if (!isLocal(request.url())) outsideRequests.add(`${request.method()} ${request.url()}`);
  });
  const page = await context.newPage();
  page.on('websocket', (socket) => {
    if (!isLocal(socket.url())) outsideRequests.add(`websocket ${socket.url()}`);
  });
  const consoleErrors: string[] = [];
  page.on('console', (message) => {
    // Failed requests are listed with their URL below.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      consoleErrors.push(message.text());
    }
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  page.on('response', (response) => {
    if (response.status() >= 400) consoleErrors.push(`${response.status()} ${response.url()}`);
  });
  await page.goto(daemon.daemon.createLoginLink());
  expect(new URL(page.url()).search).toBe('');
  await page.locator('#live[data-state="live"]').waitFor();
  return { page, consoleErrors };
}

describe.skipIf(!haveChromium)('the page in Chromium', () => {
  it('opens the dialog on auth_required, connects through the Connect UI, and shows the row connected', async () => {
    const { page, consoleErrors } = await openPage();
    const row = page.locator('tr[data-owner="main"][data-provider="google-calendar"]');
    await expect.poll(() => row.getAttribute('data-state')).toBe('missing');

    daemon.runtime.events.emit({
      type: 'auth_required',
      owner: 'main',
      provider: 'google-calendar',
      scopes: ['calendar.readonly'],
      skill: 'google-calendar',
      runId: null,
      connectUrl: null,
    });
    const dialog = page.getByRole('dialog', { name: 'Connect google-calendar' });
    await dialog.waitFor();
    expect(await dialog.getAttribute('aria-describedby')).toBe('auth-text');
    await expect
      .poll(() => page.locator('#auth-text').textContent())
      .toContain('The skill “google-calendar” needs access to google-calendar for owner “main”');
    // Focus lands on the action, so Enter connects.
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('auth-connect');
    await page.screenshot({ path: path.join(RESULTS_DIR, 'auth-dialog-open.png') });

    await page.locator('#auth-connect').click();
    const frame = page.frameLocator('#connect-ui');
    await frame.locator('#allow:not([disabled])').waitFor();
    expect(await frame.locator('#what').textContent()).toBe('Connect google-calendar for main?');
    expect(connectUi.pageLoads.at(-1)?.get('apiURL')).toBe(nango.url);
    expect(nango.connectSessions.at(-1)).toMatchObject({
      endUserId: 'main',
      allowedIntegrations: ['google-calendar'],
    });
    await page.screenshot({ path: path.join(RESULTS_DIR, 'auth-connect-ui.png') });
    await frame.locator('#allow').click();

    const file = await waitFor(
      () => readFile(tokenFile('main', 'google-calendar'), 'utf8').catch(() => undefined),
      15_000,
      'the token file',
    );
    const connection = nango.connections.find((each) => each.endUserId === 'main')!;
    expect(JSON.parse(file).access_token).toBe(connection.accessToken);

    await expect.poll(() => row.getAttribute('data-state'), { timeout: 10_000 }).toBe('connected');
    expect(await row.locator('.badge').textContent()).toBe('Connected');
    expect(await page.locator('#connect-ui').count()).toBe(0);
    expect(await page.locator('#auth-dialog').getAttribute('open')).toBeNull();
    await page.screenshot({ path: path.join(RESULTS_DIR, 'auth-connected.png'), fullPage: true });

    const html = await page.content();
    for (const secret of nango.secrets) expect(html).not.toContain(secret);
    expect(consoleErrors).toEqual([]);
  });

  it('opens a working Connect UI from the terminal link of a self-hosted Nango', async () => {
    // The link `nanoclaw connect` prints: Nango's connect_link, plus the API as browsers reach it.
    const start = await daemon.api('POST', '/api/connect-sessions', {
      body: { owner: 'frank', provider: 'github' },
    });
    const link = new URL(start.body.connect_link);
    expect(link.origin).toBe(connectUi.url);
    expect(link.searchParams.get('apiURL')).toBe(nango.url);

    const { page, consoleErrors } = await openPage();
    await page.goto(link.toString());
    await expect
      .poll(() => page.locator('#what').textContent(), { timeout: 10_000 })
      .toBe('Connect github for frank?');
    await page.locator('#allow').click();
    await expect.poll(() => page.locator('#what').textContent()).toBe('Connected');
    expect(
      nango.connections.filter((each) => each.endUserId === 'frank' && each.integration === 'github'),
    ).toHaveLength(1);
    expect(consoleErrors).toEqual([]);
  });

  it('runs a skill from the page and shows its output as it comes', async () => {
    const { page, consoleErrors } = await openPage();
    await page.locator('#run-skill option[value="calendar-digest"]').waitFor({ state: 'attached' });
    await page.locator('#run-owner').fill('erin');
    await page.locator('#run-args').fill('--days 3');
    await page.getByRole('button', { name: 'Run' }).click();
    const run = page.locator('.run').first();
    await expect
      .poll(() => run.locator('pre').textContent(), { timeout: 10_000 })
      .toContain('fetching events…');
    await expect.poll(() => run.locator('.badge').textContent(), { timeout: 10_000 }).toBe('finished');
    expect(await run.locator('pre').textContent()).toBe('fetching events…\nargs: --days,3\n');
    await page.screenshot({ path: path.join(RESULTS_DIR, 'skill-run.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);
  });

  it('shows live activity and lets the row be disconnected', async () => {
    // An owner of its own, connected through the API as the page's Connect UI would.
    const connection = nango.addConnection({ integration: 'google-calendar', endUserId: 'dora' });
    const completed = await daemon.api('POST', '/api/auth/complete', {
      body: { owner: 'dora', provider: 'google-calendar', connectionId: connection.connectionId },
    });
    expect(completed.status).toBe(200);
    expect(existsSync(tokenFile('dora', 'google-calendar'))).toBe(true);

    const { page, consoleErrors } = await openPage();
    const row = page.locator('tr[data-owner="dora"][data-provider="google-calendar"]');
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 10_000 }).toBe('connected');
    page.once('dialog', (confirm) => void confirm.accept());
    await row.getByRole('button', { name: 'Disconnect' }).click();
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 10_000 }).toBe('missing');
    await expect
      .poll(() => page.locator('#activity li').first().textContent())
      .toContain('google-calendar needs authorization for dora (disconnected)');
    expect(existsSync(tokenFile('dora', 'google-calendar'))).toBe(false);
    expect(consoleErrors).toEqual([]);
  });
});
