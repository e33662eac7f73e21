/**
 * A second (and third) nanoclaw process for the cross-process refresh test: builds the builtin source
 * from the same data folder, says "ready", waits for "go" on stdin, fetches the token once and prints
 * the outcome with a hash of the token (never the token).
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { resolveConfig } from '../../../src/config/resolve-config.js';
import { createSources } from '../../../src/sources/create-sources.js';

interface WorkerSettings {
  dataDir: string;
  publicUrl: string;
  owner: string;
  provider: Record<string, unknown> & { name: string };
}

const settings = JSON.parse(process.env.NANOCLAW_TEST_WORKER ?? '{}') as WorkerSettings;
const resolved = resolveConfig(
  { providers: [settings.provider] },
  {
    env: { NANOCLAW_DATA_DIR: settings.dataDir, NANOCLAW_PUBLIC_URL: settings.publicUrl },
    cwd: settings.dataDir,
    configPath: null,
  },
);
if ('errors' in resolved) throw new Error(resolved.errors.join('\n'));
const { config } = resolved;
const sources = createSources(config);
const provider = config.providers[0]!;

const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
await once(lines, 'line');
lines.close();

const outcome = await sources.registry
  .sourceFor(provider)
  .fetchToken({ owner: settings.owner, provider, mode: 'cached', signal: AbortSignal.timeout(30_000) });
process.stdout.write(
  `${JSON.stringify({
    status: outcome.status,
    code: outcome.status === 'token' ? null : outcome.code,
    tokenHash:
      outcome.status === 'token'
        ? createHash('sha256').update(outcome.token.accessToken).digest('hex')
        : null,
  })}\n`,
);
await sources.registry.close();
