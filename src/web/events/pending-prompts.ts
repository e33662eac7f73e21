import type { EventBus } from '../../events/event-bus.js';
import type { AuthRequiredEvent } from '../../events/types.js';

/** A prompt nobody answered within this long is stale: the skill that asked has long given up. */
const PROMPT_TTL_MS = 30 * 60_000;
const MAX_PROMPTS = 500;

export interface PendingPrompt {
  owner: string;
  provider: string;
  scopes: string[];
  skill: string | null;
  at: string;
}

/**
 * The `auth_required` prompts not yet answered by a `token_synced`, so a page opened after a skill
 * asked still offers to connect. One per (owner, provider), the latest wins; bounded, no timers.
 */
export class PendingPrompts {
  readonly #prompts = new Map<string, PendingPrompt>();
  readonly #unsubscribe: () => void;

  constructor(
    events: EventBus,
    private readonly now: () => number = Date.now,
  ) {
    this.#unsubscribe = events.subscribe((event) => {
      if (event.type === 'auth_required') this.#add(event);
      else if (event.type === 'token_synced') this.#prompts.delete(key(event.owner, event.provider));
    });
  }

  list(): PendingPrompt[] {
    const oldest = this.now() - PROMPT_TTL_MS;
    for (const [name, prompt] of this.#prompts) {
      if (Date.parse(prompt.at) < oldest) this.#prompts.delete(name);
    }
    return [...this.#prompts.values()];
  }

  dispose(): void {
    this.#unsubscribe();
    this.#prompts.clear();
  }

  #add(event: AuthRequiredEvent): void {
    const name = key(event.owner, event.provider);
    this.#prompts.delete(name);
    this.#prompts.set(name, {
      owner: event.owner,
      provider: event.provider,
      scopes: event.scopes,
      skill: event.skill,
      at: event.at,
    });
    if (this.#prompts.size > MAX_PROMPTS) this.#prompts.delete(this.#prompts.keys().next().value!);
  }
}

function key(owner: string, provider: string): string {
  return `${owner}\u0000${provider}`;
}
