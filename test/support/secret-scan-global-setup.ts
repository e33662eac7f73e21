import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatLeaks, scanRunDirectory, SECRET_SCAN_DIR_ENV } from './secret-scan.js';

/**
 * vitest `globalSetup` of the secret scan (see secret-scan-setup.ts): makes the run folder the
 * workers capture into, and after the last test file scans it and fails the run on any leak.
 */
export default function setupSecretScan(): () => void {
  // Always a new folder: a nested run (the scan's own test) must not share its parent's.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nanoclaw-secret-scan-'));
  process.env[SECRET_SCAN_DIR_ENV] = dir;

  return function scanForLeaks(): void {
    const report = scanRunDirectory(dir);
    const summary =
      `secret scan: ${report.secrets} secrets against ${report.records} captured lines ` +
      `(${(report.bytes / 1024 / 1024).toFixed(1)} MiB from ${report.captureFiles} processes)`;
    if (report.leaks.length > 0) {
      // vitest only prints an error thrown from a global teardown; the exit code must say it too.
      process.exitCode = 1;
      throw new Error(
        `${summary}: ${report.leaks.length} leaked a secret (the capture is kept for inspection):\n` +
          formatLeaks(dir, report.leaks),
      );
    }
    // eslint-disable-next-line no-console
    console.log(`${summary}: no leak`);
    rmSync(dir, { recursive: true, force: true });
  };
}
