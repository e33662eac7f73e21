import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { describeSecret, recordSecret, SecretMatcher } from '../../support/secret-scan.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const VITEST = fileURLToPath(new URL('../../../node_modules/vitest/vitest.mjs', import.meta.url));
const LEAK_CONFIG = fileURLToPath(new URL('./fixtures/leak.vitest.config.ts', import.meta.url));

describe('the secret matcher', () => {
  const secrets = [
    `fake-access-token-${randomBytes(12).toString('hex')}`,
    randomBytes(32).toString('base64url'),
    `eyJhbGciOiJSUzI1NiJ9.${randomBytes(24).toString('base64url')}.${randomBytes(24).toString('base64url')}`,
    'a secret with spaces and !',
  ];
  const matcher = new SecretMatcher([...secrets, 'short']);

  it.each(secrets.map((secret, index) => [index, secret]))(
    'finds secret %i alone, inside JSON, glued to other secret characters and URL-encoded contexts',
    (_index, secret) => {
      expect(matcher.find(secret)).toEqual([secret]);
      expect(matcher.find(JSON.stringify({ message: `token=${secret}; done` }))).toEqual([secret]);
      expect(matcher.find(`Bearer${secret}xyz`)).toEqual([secret]);
      expect(matcher.find(`https://x.invalid/cb?code=${secret}&state=1`)).toEqual([secret]);
    },
  );

  it('ignores parts of a secret and values too short to be one', () => {
    for (const secret of secrets) {
      expect(matcher.find(secret.slice(0, -1))).toEqual([]);
      expect(matcher.find(secret.slice(1))).toEqual([]);
    }
    expect(matcher.find('short short short')).toEqual([]);
    expect(matcher.size).toBe(secrets.length);
  });
});

describe('a run that leaks a secret', () => {
  it('fails, naming where it leaked (log, event, child output) without printing the secret', async () => {
    const secret = `leak-fixture-${randomBytes(16).toString('hex')}`;
    recordSecret(secret);
    const child = spawn(process.execPath, [VITEST, 'run', '--config', LEAK_CONFIG], {
      cwd: REPO,
      env: { ...process.env, LEAK_FIXTURE_SECRET: secret },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exitCode = await new Promise<number | null>((resolve) => child.once('close', resolve));

    // The capture of a failed scan is kept for people; this one holds nothing but the planted secret.
    const kept = /(\/\S*nanoclaw-secret-scan-[^/\s]+)\/capture-/.exec(output)?.[1];
    if (kept) await rm(kept, { recursive: true, force: true });

    expect(output).toContain('1 passed');
    expect(exitCode).toBe(1);
    expect(output).toContain('3 leaked a secret');
    const leaks = output.split('\n').filter((line) => line.includes(describeSecret(secret)));
    expect(leaks.map((line) => /\] ([^:]+):/.exec(line)?.[1])).toEqual(['log', 'event', 'child node stderr']);
    expect(leaks.every((line) => line.includes('deliberate-leak.fixture.ts'))).toBe(true);
    expect(output).not.toContain(secret);
  }, 60_000);
});
