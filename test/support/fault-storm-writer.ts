/**
 * A syncing process for the kill test: forced syncs of one token as fast as it can, each one a new
 * token from the (fake) Nango written through the product's TokenSync and TokenFolder, until it is
 * killed. Run as `node --import tsx fault-storm-writer.ts <dataDir> <provider> <owner> <connectionId>`
 * with NANGO_HOST and NANGO_SECRET_KEY set; prints `storming` once the first token is written.
 */
import { createRuntimeFromConfig } from '../../src/app/runtime.js';
import { resolveConfig } from '../../src/config/resolve-config.js';
import { createLogger } from '../../src/log/logger.js';

const [dataDir, provider, owner, connectionId] = process.argv.slice(2);
if (!dataDir || !provider || !owner || !connectionId)
  throw new Error('usage: <dataDir> <provider> <owner> <connectionId>');

const resolved = resolveConfig(
  {
    dataDir,
    nango: { host: process.env.NANGO_HOST, secretKey: process.env.NANGO_SECRET_KEY, timeout: 5 },
    providers: [{ name: provider, source: 'nango', connections: { [owner]: connectionId } }],
  },
  { env: {}, cwd: dataDir, configPath: null },
);
if ('errors' in resolved) throw new Error(resolved.errors.join('\n'));
// Logs go to stderr as in production, where the test captures them.
const runtime = createRuntimeFromConfig(resolved.config, [], { logger: createLogger({ level: 'warn' }) });

let announced = false;
for (;;) {
  const result = await runtime.tokenSync.sync(owner, provider, { force: true });
  if (result.state !== 'refreshed') throw new Error(`sync ended ${result.state}: ${result.code ?? ''}`);
  if (!announced) {
    announced = true;
    process.stdout.write('storming\n');
  }
}
