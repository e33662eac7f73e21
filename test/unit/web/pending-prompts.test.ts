import { describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/events/event-bus.js';
import { PendingPrompts } from '../../../src/web/events/pending-prompts.js';

function ask(events: EventBus, owner: string, provider: string, at: string, skill = 'calendar') {
  events.emit({
    type: 'auth_required',
    owner,
    provider,
    scopes: ['read'],
    skill,
    runId: null,
    connectUrl: 'https://x/secret-session',
    at,
  });
}

describe('PendingPrompts', () => {
  it('keeps one unanswered prompt per owner and provider, the latest, without its link', () => {
    const events = new EventBus();
    const prompts = new PendingPrompts(events, () => Date.parse('2026-01-01T00:10:00Z'));
    ask(events, 'alice', 'github', '2026-01-01T00:00:00Z', 'first');
    ask(events, 'alice', 'github', '2026-01-01T00:01:00Z', 'second');
    ask(events, 'bob', 'github', '2026-01-01T00:02:00Z');
    expect(prompts.list()).toEqual([
      { owner: 'alice', provider: 'github', scopes: ['read'], skill: 'second', at: '2026-01-01T00:01:00Z' },
      { owner: 'bob', provider: 'github', scopes: ['read'], skill: 'calendar', at: '2026-01-01T00:02:00Z' },
    ]);
    expect(JSON.stringify(prompts.list())).not.toContain('secret-session');
  });

  it('forgets a prompt once its token is synced, and stale ones after 30 minutes', () => {
    const events = new EventBus();
    let now = Date.parse('2026-01-01T00:00:00Z');
    const prompts = new PendingPrompts(events, () => now);
    ask(events, 'alice', 'github', '2026-01-01T00:00:00Z');
    ask(events, 'alice', 'calendar', '2026-01-01T00:00:00Z');
    events.emit({ type: 'token_synced', owner: 'alice', provider: 'github', expiresAt: null });
    expect(prompts.list().map((prompt) => prompt.provider)).toEqual(['calendar']);
    now += 31 * 60_000;
    expect(prompts.list()).toEqual([]);
  });

  it('stops listening when disposed', () => {
    const events = new EventBus();
    const prompts = new PendingPrompts(events);
    prompts.dispose();
    ask(events, 'alice', 'github', new Date().toISOString());
    expect(prompts.list()).toEqual([]);
    expect(events.listenerCount).toBe(0);
  });
});
