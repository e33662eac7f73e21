import { createServer } from 'node:net';

/**
 * The port asked for, or for 0 a port that was free on loopback a moment ago: an OAuth redirect URI
 * names its port, so it must be known before the server that answers it starts.
 */
export async function choosePort(requested: number, host = '127.0.0.1'): Promise<number> {
  if (requested !== 0) return requested;
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
