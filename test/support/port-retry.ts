import { choosePort } from '../../src/cli/free-port.js';

/** How often a setup is tried with a new port before the address in use is reported as a failure. */
const ATTEMPTS = 5;

/** A port chosen free was taken by someone else before the test's server bound it. */
export class PortTakenError extends Error {
  constructor(port: number, detail: string) {
    super(`port ${port} was taken before the server bound it: ${detail}`);
  }
}

/** True for an address-in-use failure, however it arrives: the socket error, or nanoclaw's LISTEN_FAILED. */
export function isPortTaken(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    if (current instanceof PortTakenError) return true;
    const { code, message } = current as { code?: unknown; message?: unknown };
    if (code === 'EADDRINUSE') return true;
    if (code === 'LISTEN_FAILED' && typeof message === 'string' && message.includes('EADDRINUSE'))
      return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Runs `setUp` with a loopback port that was free a moment ago, for servers whose port must be known
 * before they start (an OAuth redirect URI names it). Another process may take the port in between:
 * then `setUp` (which disposes what it started) fails with the address in use, and it runs again with
 * a new port. Any other failure, or the same one every time, is the test's.
 */
export async function withChosenPort<T>(setUp: (port: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const port = await choosePort(0);
    try {
      return await setUp(port);
    } catch (error) {
      if (attempt >= ATTEMPTS || !isPortTaken(error)) throw error;
    }
  }
}
