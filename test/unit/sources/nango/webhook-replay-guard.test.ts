import { describe, expect, it } from 'vitest';
import { WebhookReplayGuard } from '../../../../src/sources/nango/webhook-replay-guard.js';

const body = (text: string) => Buffer.from(text);

describe('WebhookReplayGuard', () => {
  it('admits a delivery once within the window, and again once the window has passed', () => {
    let now = 0;
    const guard = new WebhookReplayGuard({ windowMs: 1000, now: () => now });
    expect(guard.admit(body('a')).admitted).toBe(true);
    expect(guard.admit(body('a')).admitted).toBe(false);
    expect(guard.admit(body('b')).admitted).toBe(true);
    now = 1000;
    expect(guard.admit(body('a')).admitted).toBe(true);
  });

  it('forgets a delivery whose handling failed, so the sender may retry it', () => {
    const guard = new WebhookReplayGuard();
    const first = guard.admit(body('a'));
    if (!first.admitted) throw new Error('expected admission');
    first.forget();
    expect(guard.admit(body('a')).admitted).toBe(true);
  });

  it('keeps at most its capacity, forgetting the oldest first', () => {
    const guard = new WebhookReplayGuard({ capacity: 3 });
    for (const text of ['a', 'b', 'c', 'd']) guard.admit(body(text));
    expect(guard.size).toBe(3);
    expect(guard.admit(body('a')).admitted).toBe(true);
    expect(guard.admit(body('d')).admitted).toBe(false);
  });
});
