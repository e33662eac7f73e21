import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real servers, containers and browsers: give them room, and run files
    // in separate processes so one file's servers never see another's.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 180_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
    // Every event, log line and CLI output of the run is scanned for secrets at the end.
    // The CLI is bundled once, as `npm run build` bundles it, for the tests that run it as a process.
    globalSetup: ['test/support/secret-scan-global-setup.ts', 'test/support/built-cli-global-setup.ts'],
    setupFiles: ['test/support/secret-scan-setup.ts'],
  },
});
