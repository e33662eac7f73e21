import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/events/event-bus.js';
import { TokenRedactor } from '../../../src/sandbox/token-redactor.js';
import { TokenFolder } from '../../../src/tokens/token-folder.js';

let root: string;
let folder: TokenFolder;

async function writeToken(owner: string, provider: string, accessToken: string, refreshToken?: string) {
  const now = new Date();
  await folder.write(
    owner,
    {
      provider,
      access_token: accessToken,
      token_type: 'Bearer',
      expires_at: null,
      scopes: [],
      synced_at: now.toISOString(),
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
    },
    now,
  );
}

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'nanoclaw-redactor-'));
  folder = new TokenFolder(path.join(root, 'tokens'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('TokenRedactor.forRun', () => {
  it("scrubs every token in the owner's folder, declared or not, and refresh tokens too", async () => {
    await writeToken('alice', 'google-calendar', 'calendar-access-token-1234');
    await writeToken('alice', 'github', 'github-access-token-5678', 'github-refresh-token-9012');
    await writeToken('bob', 'github', 'bobs-github-token-3456');
    using redactor = await TokenRedactor.forRun(folder, new EventBus(), 'alice');
    expect(
      redactor.redact('calendar-access-token-1234 github-access-token-5678 github-refresh-token-9012'),
    ).toBe('[redacted] [redacted] [redacted]');
    // Another owner's tokens are not in this container, and not in this redactor either.
    expect(redactor.redact('bobs-github-token-3456')).toBe('bobs-github-token-3456');
  });

  it("learns the owner's tokens synced while the run goes on, for any provider, until disposed", async () => {
    const events = new EventBus();
    const redactor = await TokenRedactor.forRun(folder, events, 'alice');
    await writeToken('alice', 'slack', 'slack-token-arrived-later');
    events.emit({ type: 'token_synced', owner: 'alice', provider: 'slack', expiresAt: null });
    await expect.poll(() => redactor.redact('slack-token-arrived-later')).toBe('[redacted]');
    redactor[Symbol.dispose]();
    expect(events.listenerCount).toBe(0);
  });

  it('leaves short values and ordinary text alone', async () => {
    await writeToken('alice', 'tiny', 'short');
    using redactor = await TokenRedactor.forRun(folder, new EventBus(), 'alice');
    expect(redactor.redact('a short line')).toBe('a short line');
  });
});
