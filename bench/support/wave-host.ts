/**
 * One host of the multi-host benchmark, as a process: the product's runtime on PostgreSQL (built by
 * createRuntimeFromConfig, as `serve` builds it, its events shared with the other hosts) syncing
 * every owner's grant when told to go, in its own order, the way each host's refresher meets a wave
 * of grants that come due together. Before that it writes each owner's token file as an earlier sync
 * would have left it, now expired.
 * Settings arrive in NANOCLAW_WAVE_HOST (JSON); it prints "ready", waits for "go" on stdin, then
 * prints one JSON line with what it did, and ends on "close".
 */
import { createInterface } from 'node:readline';
import { createRuntimeFromConfig } from '../../src/app/runtime.js';
import { resolveConfig } from '../../src/config/resolve-config.js';
import { silentLogger } from '../../src/log/logger.js';
import { buildTokenFile } from '../../src/tokens/token-file.js';

interface Settings {
  databaseUrl: string;
  encryptionKey: string;
  tokenUrl: string;
  dataDir: string;
  owners: string[];
  concurrency: number;
}

const settings = JSON.parse(process.env.NANOCLAW_WAVE_HOST ?? '{}') as Settings;
const resolved = resolveConfig(
  {
    refresh: { concurrency: settings.concurrency },
    providers: [
      {
        name: 'wave',
        source: 'builtin',
        clientId: 'bench',
        clientSecret: 'bench-secret',
        authorizationUrl: `${settings.tokenUrl}/authorize`,
        tokenUrl: `${settings.tokenUrl}/token`,
        scopes: ['read'],
      },
    ],
  },
  {
    env: {
      NANOCLAW_DATA_DIR: settings.dataDir,
      NANOCLAW_DATABASE_URL: settings.databaseUrl,
      NANOCLAW_ENCRYPTION_KEY: settings.encryptionKey,
    },
    cwd: settings.dataDir,
    configPath: null,
  },
);
if ('errors' in resolved) throw new Error(resolved.errors.join('\n'));
const runtime = createRuntimeFromConfig(resolved.config, [], { logger: silentLogger() });
await runtime.store!.ready();
// As `serve` does: what this host syncs is told to the pages of every host.
await runtime.store!.shareEvents(runtime.events);

// A host that has been running holds its owners' token files, all of them due now: the wave
// replaces them.
const expired = new Date(Date.now() - 60_000);
for (let start = 0; start < settings.owners.length; start += 50) {
  await Promise.all(
    settings.owners.slice(start, start + 50).map((owner) =>
      runtime.folder.save(
        owner,
        buildTokenFile(
          runtime.tokenSync.provider('wave'),
          {
            accessToken: 'expired',
            tokenType: 'Bearer',
            expiresAt: expired,
            scopes: null,
            refreshToken: null,
          },
          new Date(expired.getTime() - 3_600_000),
        ),
        expired,
      ),
    ),
  );
}

// Every host meets the wave in its own order, as their refreshers' jitter makes it.
const owners = [...settings.owners];
for (let index = owners.length - 1; index > 0; index--) {
  const other = Math.floor(Math.random() * (index + 1));
  [owners[index], owners[other]] = [owners[other]!, owners[index]!];
}

process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
// "go" starts the wave; "close" (or the end of stdin) ends the process once the bench has read what
// the database spent, while this host's connections are still open.
for await (const line of lines) {
  if (line === 'close') break;
  if (line !== 'go') continue;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const results = await runtime.tokenSync.syncMany(owners.map((owner) => ({ owner, provider: 'wave' })));
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const states: Record<string, number> = {};
  for (const result of results) states[result.state] = (states[result.state] ?? 0) + 1;
  process.stdout.write(`${JSON.stringify({ ms, cpuMs: (cpu.user + cpu.system) / 1000, states })}\n`);
}
lines.close();
await runtime.close();
