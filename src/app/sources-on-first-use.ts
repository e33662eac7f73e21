import type { ProviderConfig } from '../config/types.js';
import type { CreatedSources } from '../sources/create-sources.js';
import type { TokenSource, TokenSources } from '../sources/token-source.js';
import { RuntimeClosedError } from './runtime-closed-error.js';

/**
 * The runtime's token sources, built the first time something asks for them: a `status`, or a sync
 * that finds every token file fresh, never builds them. It owns them: `close` closes what was built
 * and builds nothing; after it, asking for them fails.
 */
export class SourcesOnFirstUse implements TokenSources {
  readonly #build: () => CreatedSources;
  #built: CreatedSources | null = null;
  #closed = false;

  constructor(build: () => CreatedSources) {
    this.#build = build;
  }

  /** Sources someone else built, owned (and closed) from now on as if built here. */
  static alreadyBuilt(sources: CreatedSources): SourcesOnFirstUse {
    const owner = new SourcesOnFirstUse(() => sources);
    owner.#built = sources;
    return owner;
  }

  /** The sources, built now if they were not yet. */
  get created(): CreatedSources {
    if (this.#built) return this.#built;
    if (this.#closed) throw new RuntimeClosedError();
    this.#built = this.#build();
    return this.#built;
  }

  sourceFor(provider: ProviderConfig): TokenSource {
    return this.created.registry.sourceFor(provider);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#built?.registry.close();
  }
}
