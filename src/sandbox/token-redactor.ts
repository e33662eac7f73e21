import type { EventBus } from '../events/event-bus.js';
import type { TokenFolder } from '../tokens/token-folder.js';

export const REDACTED = '[redacted]';
/** Shorter values would also match ordinary words; real tokens are far longer. */
const MIN_SECRET_LENGTH = 8;

/**
 * A skill that prints its own token would put it into events, logs and the page. Every output line
 * is scrubbed of the tokens the run was given, including ones refreshed while it runs.
 */
export class TokenRedactor {
  readonly #secrets = new Set<string>();

  add(secret: string | undefined): void {
    if (secret && secret.length >= MIN_SECRET_LENGTH) this.#secrets.add(secret);
  }

  redact(line: string): string {
    let result = line;
    for (const secret of this.#secrets) {
      if (result.includes(secret)) result = result.split(secret).join(REDACTED);
    }
    return result;
  }

  /**
   * Learns every token in the owner's folder (the container sees all of them, not only the ones its
   * manifest declares), and every newer one of that owner until disposed.
   */
  static async forRun(
    folder: TokenFolder,
    events: EventBus,
    owner: string,
  ): Promise<TokenRedactor & Disposable> {
    const redactor = new TokenRedactor();
    const learn = async (provider: string) => {
      const stored = await folder.read(owner, provider).catch(() => null);
      if (stored?.state !== 'present') return;
      redactor.add(stored.file.access_token);
      redactor.add(stored.file.refresh_token);
    };
    const unsubscribe = events.subscribe((event) => {
      if (event.type === 'token_synced' && event.owner === owner) void learn(event.provider);
    });
    const providers = await folder.listProviders(owner).catch((): string[] => []);
    await Promise.all(providers.map(learn));
    return Object.assign(redactor, { [Symbol.dispose]: unsubscribe });
  }
}
