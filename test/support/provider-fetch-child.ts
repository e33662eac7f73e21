/**
 * Sends one GET through the provider client in a process of its own (with whatever environment the
 * test gave it, such as NODE_EXTRA_CA_CERTS) and prints `status <code>` or `error <code>`.
 */
import { ProviderHttp } from '../../src/sources/builtin/provider-fetch.js';

const client = new ProviderHttp();
try {
  const response = await client.fetch(process.argv[2]!, { signal: AbortSignal.timeout(10_000) });
  process.stdout.write(`status ${response.status}\n`);
} catch (error) {
  const code = (error as { cause?: { code?: unknown } }).cause?.code;
  process.stdout.write(`error ${typeof code === 'string' ? code : String(error)}\n`);
} finally {
  client.close();
}
