import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium, RESULTS_DIR } from '../support/browser.js';
import { demoProviderEntries } from '../../src/demo/demo-providers.js';
import { builtinCallbackUrl } from '../../src/sources/builtin/builtin-urls.js';
import { startTestOidcServer, type DemoOAuthServer } from '../support/oidc-server.js';
import { TestDaemon, waitFor } from '../integration/web/daemon-harness.js';
import { withChosenPort } from '../support/port-retry.js';

const haveChromium = chromiumAvailable();

let oauth: DemoOAuthServer;
let daemon: TestDaemon;
let browser: Browser;

beforeAll(async () => {
  if (!haveChromium) return;
  // The redirect URI names the daemon's port, so it is chosen first (and again if someone takes it).
  await withChosenPort(async (port) => {
    const publicUrl = `http://127.0.0.1:${port}`;
    oauth = await startTestOidcServer({ redirectUris: [builtinCallbackUrl(publicUrl, 'demo')] });
    try {
      daemon = await TestDaemon.start({
        config: { providers: demoProviderEntries(oauth) },
        env: { NANOCLAW_PUBLIC_URL: publicUrl },
        daemon: { port },
      });
    } catch (error) {
      await oauth.close();
      throw error;
    }
  });
  browser = await launchChromium();
});

afterAll(async () => {
  if (!haveChromium) return;
  await browser?.close();
  await daemon?.close();
  await oauth?.close();
});

describe.skipIf(!haveChromium)('the built-in OAuth flow from the page', () => {
  it('opens the provider in a popup, and the dialog closes when the token is synced', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
    await page.goto(daemon.daemon.createLoginLink());
    await page.locator('#live[data-state="live"]').waitFor();
    daemon.runtime.events.emit({
      type: 'auth_required',
      owner: 'main',
      provider: 'demo',
      scopes: ['openid'],
      skill: 'demo-skill',
      runId: null,
      connectUrl: null,
    });
    await page.getByRole('dialog', { name: 'Connect demo' }).waitFor();

    const [popup] = await Promise.all([page.waitForEvent('popup'), page.locator('#auth-connect').click()]);
    await expect
      .poll(() => page.locator('#auth-status').textContent())
      .toContain('Waiting for you to finish');
    await popup.locator('button.allow').click();
    await popup.getByText('demo is connected').waitFor();
    await popup.waitForEvent('close', { timeout: 10_000 });

    const file = await waitFor(
      () =>
        readFile(path.join(daemon.dir, 'data', 'tokens', 'main', 'demo.json'), 'utf8').catch(() => undefined),
      10_000,
      'the token file',
    );
    expect(JSON.parse(file).provider).toBe('demo');
    const row = page.locator('tr[data-owner="main"][data-provider="demo"]');
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 10_000 }).toBe('connected');
    expect(await page.locator('#auth-dialog').getAttribute('open')).toBeNull();
    // The service provider has nothing to authorize: no Connect button for it.
    expect(await page.locator('tr[data-provider="demo-service"] button').count()).toBe(0);
    await page.screenshot({ path: path.join(RESULTS_DIR, 'builtin-connected.png'), fullPage: true });
  });

  it('says so in the dialog when the user denies in the popup, and lets them try again', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
    await page.goto(daemon.daemon.createLoginLink());
    await page.locator('#live[data-state="live"]').waitFor();
    daemon.runtime.events.emit({
      type: 'auth_required',
      owner: 'denier',
      provider: 'demo',
      scopes: ['openid'],
      skill: 'demo-skill',
      runId: null,
      connectUrl: null,
    });
    await page.getByRole('dialog', { name: 'Connect demo' }).waitFor();
    const [popup] = await Promise.all([page.waitForEvent('popup'), page.locator('#auth-connect').click()]);
    await popup.locator('button.deny').click();
    await expect.poll(() => page.locator('#auth-status').textContent()).toContain('It did not connect');
    expect(await page.locator('#auth-connect').isEnabled()).toBe(true);
    expect(await page.locator('#auth-connect').textContent()).toBe('Try again');
    await popup.close().catch(() => {});
    await page.close();
  });

  it('offers to connect when the skill asked before the page was opened', async () => {
    daemon.runtime.events.emit({
      type: 'auth_required',
      owner: 'late',
      provider: 'demo',
      scopes: ['openid'],
      skill: 'demo-skill',
      runId: null,
      connectUrl: null,
    });
    const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
    await page.goto(daemon.daemon.createLoginLink());
    const dialog = page.getByRole('dialog', { name: 'Connect demo' });
    await dialog.waitFor();
    // Earlier tests may have left unanswered prompts of their own: they come first, one by one.
    for (let shown = 0; shown < 3; shown++) {
      if ((await page.locator('#auth-text').textContent())?.includes('owner “late”')) break;
      await page.locator('#auth-later').click();
      await dialog.waitFor();
    }
    expect(await page.locator('#auth-text').textContent()).toContain('owner “late”');
    await page.locator('#auth-later').click();
    await expect.poll(() => page.locator('#auth-dialog').getAttribute('open')).toBeNull();
    await page.close();
  });
});
