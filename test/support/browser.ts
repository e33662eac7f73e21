import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium; no browser is ever downloaded. */
export const CHROMIUM = '/usr/bin/chromium';
/** Screenshots land here (gitignored), for people to look at. */
export const RESULTS_DIR = fileURLToPath(new URL('../../test-results/', import.meta.url));

/**
 * Whether the browser tests can run: in CI a missing Chromium fails the run; locally the tests are
 * skipped with a loud notice, so a run never passes quietly without the browser.
 */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package`);
  process.stderr.write(
    `\n*** SKIPPING the browser tests: ${CHROMIUM} is not installed (apt-get install chromium) ***\n\n`,
  );
  return false;
}

/** Headless Chromium that makes no connection of its own to the outside (this machine has none). */
export async function launchChromium(): Promise<Browser> {
  await mkdir(RESULTS_DIR, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
