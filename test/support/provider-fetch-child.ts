/**
 * Sends one GET through the provider client in a process of its own (with whatever environment the
 * test gave it, such as NODE_EXTRA_CA_CERTS) and prints `status <code>` or `error <code>`. With
 * `shared`, it goes through the process-wide client, which it does not close, and then prints how
 * many sockets keep the process alive.
 */
import { ProviderHttp, providerFetch } from '../../src/sources/builtin/provider-fetch.js';

const [url, mode] = process.argv.slice(2);
const own = mode === 'shared' ? null : new ProviderHttp();
try {
  const response = await (own?.fetch ?? providerFetch)(url!, { signal: AbortSignal.timeout(10_000) });
  await response.text();
  process.stdout.write(`status ${response.status}\n`);
} catch (error) {
  const code = (error as { cause?: { code?: unknown } }).cause?.code;
  process.stdout.write(`error ${typeof code === 'string' ? code : String(error)}\n`);
} finally {
  own?.close();
}
if (mode === 'shared') {
  await new Promise((resolve) => setImmediate(resolve));
  const sockets = process.getActiveResourcesInfo().filter((resource) => resource === 'TCPSocketWrap');
  process.stdout.write(`sockets holding the process ${sockets.length}\n`);
}
