import { randomBytes } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A token endpoint on 127.0.0.1 that answers refresh requests after a fixed delay and rotates
 * refresh tokens: each is good once, and a replayed one is refused with `invalid_grant` (as Lark
 * does). Counts what it was asked.
 */
export class WaveProvider {
  requests = 0;
  refused = 0;
  readonly #valid = new Set<string>();

  readonly server: Server;

  private constructor(delayMs: number) {
    this.server = createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        setTimeout(() => this.#answer(body, response), delayMs);
      });
    });
    this.server.keepAliveTimeout = 60_000;
  }

  static async start(delayMs: number): Promise<WaveProvider> {
    const provider = new WaveProvider(delayMs);
    await new Promise<void>((resolve) => provider.server.listen(0, '127.0.0.1', resolve));
    return provider;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** A refresh token the provider will take once. */
  issue(): string {
    const token = randomBytes(16).toString('hex');
    this.#valid.add(token);
    return token;
  }

  #answer(body: string, response: ServerResponse): void {
    this.requests++;
    const form = new URLSearchParams(body);
    const refreshToken = form.get('refresh_token');
    response.setHeader('content-type', 'application/json');
    response.setHeader('cache-control', 'no-store');
    if (form.get('grant_type') !== 'refresh_token' || !refreshToken || !this.#valid.delete(refreshToken)) {
      this.refused++;
      response.writeHead(400).end(JSON.stringify({ error: 'invalid_grant' }));
      return;
    }
    response.writeHead(200).end(
      JSON.stringify({
        access_token: randomBytes(16).toString('hex'),
        token_type: 'Bearer',
        expires_in: 3600,
        refresh_token: this.issue(),
      }),
    );
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
