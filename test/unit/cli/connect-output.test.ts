import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyProbe, localDaemonUrl, readApiToken } from '../../../src/cli/connect-daemon-client.js';
import {
  authorizeJsonLine,
  describeLink,
  exitCodeForConnect,
  renderConnectText,
  resultJsonLine,
  type AuthorizeLink,
  type ConnectReport,
} from '../../../src/cli/connect-report.js';
import type { SyncResult } from '../../../src/tokens/sync-result.js';

const NOW = Date.parse('2025-03-01T12:00:00Z');

const row = (overrides: Partial<SyncResult> = {}): SyncResult => ({
  owner: 'alice',
  provider: 'google-calendar',
  state: 'refreshed',
  usable: true,
  fetched: true,
  expiresAt: '2025-03-01T13:00:00.000Z',
  syncedAt: '2025-03-01T12:00:00.000Z',
  code: null,
  message: null,
  retryAfterMs: null,
  ...overrides,
});

const nangoLink: AuthorizeLink = {
  url: 'https://connect.nango.dev/?session_token=nango_connect_session_abc',
  route: 'nango',
  expiresAt: '2025-03-01T12:30:00.000Z',
};

const report = (overrides: Partial<ConnectReport> = {}): ConnectReport => ({
  provider: 'google-calendar',
  owner: 'alice',
  source: 'nango',
  outcome: 'connected',
  link: nangoLink,
  result: row(),
  tokenFile: '/srv/nanoclaw/data/tokens/alice/google-calendar.json',
  timeoutMs: 900_000,
  ...overrides,
});

describe('connect exit codes', () => {
  it.each([
    ['connected', row(), 0],
    ['connected', row({ state: 'error', usable: false, code: 'TOKEN_WRITE_FAILED' }), 1],
    ['connected', row({ state: 'error', usable: false, code: 'TOKEN_SOURCE_CONFIG' }), 2],
    ['connected', row({ state: 'needs-auth', usable: false }), 3],
    ['connected', null, 1],
    ['nothing-to-authorize', row(), 0],
    ['not-waiting', null, 0],
    ['timeout', null, 3],
    ['interrupted', null, 130],
  ] as const)('%s with %j exits %i', (outcome, result, code) => {
    expect(exitCodeForConnect({ outcome, result })).toBe(code);
  });
});

describe('connect output', () => {
  it('has one JSON line for the link and one for the result, in a stable shape', () => {
    expect(authorizeJsonLine(report(), nangoLink)).toEqual({
      type: 'authorize',
      provider: 'google-calendar',
      owner: 'alice',
      source: 'nango',
      url: nangoLink.url,
      via: 'nango',
      expiresAt: '2025-03-01T12:30:00.000Z',
    });
    expect(resultJsonLine(report())).toEqual({
      type: 'result',
      provider: 'google-calendar',
      owner: 'alice',
      source: 'nango',
      outcome: 'connected',
      link: nangoLink.url,
      tokenFile: '/srv/nanoclaw/data/tokens/alice/google-calendar.json',
      result: row(),
      refusal: null,
    });
    expect(resultJsonLine(report({ outcome: 'interrupted', link: null, result: null }))).toMatchObject({
      link: null,
      result: null,
    });
    const refusal = { code: 'OAUTH_ACCESS_DENIED', message: 'access to demo was denied' };
    expect(resultJsonLine(report({ outcome: 'refused', result: null, refusal }))).toMatchObject({
      outcome: 'refused',
      refusal,
    });
    expect(exitCodeForConnect({ outcome: 'refused', result: null })).toBe(3);
  });

  it('starts with the line to click, then says what the link is', () => {
    expect(describeLink(report(), nangoLink)).toEqual([
      `Open this link to connect google-calendar for owner alice: ${nangoLink.url}`,
      "It is Nango's connect page for google-calendar only; it expires 2025-03-01 12:30:00Z.",
    ]);
    const daemon = describeLink(report({ provider: 'demo' }), {
      url: 'http://127.0.0.1:3000/?token=code&next=%2Fauth',
      route: 'daemon',
      expiresAt: null,
    });
    expect(daemon[0]).toBe(
      'Open this link to connect demo for owner alice: http://127.0.0.1:3000/?token=code&next=%2Fauth',
    );
    expect(daemon.slice(1).join(' ')).toMatch(/works only once: do not share it/);
    const temporary = describeLink(report({ provider: 'demo', timeoutMs: 120_000 }), {
      url: 'http://127.0.0.1:3000/?token=code',
      route: 'temporary-server',
      expiresAt: null,
    });
    expect(temporary.slice(1).join(' ')).toMatch(/works only once.*while it waits \(at most 2m\)/);
    expect(temporary.slice(1).join(' ')).toContain('http://127.0.0.1:3000');
  });

  it('ends with the sync row when connected', () => {
    expect(renderConnectText(report(), NOW)).toBe(
      [
        'google-calendar is connected for owner alice; the token is in /srv/nanoclaw/data/tokens/alice/google-calendar.json.',
        '',
        'OWNER  PROVIDER         STATE      EXPIRES   SYNCED AT             DETAIL',
        'alice  google-calendar  refreshed  in 1h 0m  2025-03-01 12:00:00Z',
      ].join('\n'),
    );
    const failed = renderConnectText(
      report({
        result: row({ state: 'unavailable', usable: false, expiresAt: null, message: 'Nango is down' }),
      }),
      NOW,
    );
    expect(failed.split('\n')[0]).toBe(
      'google-calendar is authorized for owner alice, but no usable token is on disk yet.',
    );
    expect(failed).toContain('Nango is down');
  });

  it('says what to do next when nobody waited, time ran out, or it was stopped', () => {
    expect(renderConnectText(report({ outcome: 'not-waiting', result: null }))).toContain(
      '"nanoclaw sync google-calendar --owner alice" writes the token',
    );
    expect(
      renderConnectText(
        report({ outcome: 'not-waiting', result: null, link: { ...nangoLink, route: 'daemon' } }),
      ),
    ).toBe('Not waiting. The daemon writes the token as soon as the owner has authorized.');
    expect(renderConnectText(report({ outcome: 'timeout', result: null, timeoutMs: 60_000 }))).toBe(
      'google-calendar was not authorized for owner alice within 1m. ' +
        'Run "nanoclaw connect google-calendar --owner alice" for a new link.',
    );
    expect(renderConnectText(report({ outcome: 'interrupted', result: null }))).toBe(
      'Stopped before google-calendar was connected for owner alice.',
    );
    expect(
      renderConnectText(report({ outcome: 'nothing-to-authorize', source: 'builtin', link: null }), NOW),
    ).toMatch(/^google-calendar uses client credentials: there is nothing for an owner to authorize/);
  });
});

describe('finding a running daemon', () => {
  it('only a 200 is ours; 401 and 403 are someone else; anything else is nobody', () => {
    expect(classifyProbe(200)).toEqual({ kind: 'ours' });
    expect(classifyProbe(401)).toEqual({ kind: 'refused', status: 401 });
    expect(classifyProbe(403)).toEqual({ kind: 'refused', status: 403 });
    for (const status of [404, 500, 502, 503]) expect(classifyProbe(status)).toEqual({ kind: 'none' });
  });

  it('sends the API token to the public URL only over https or loopback', () => {
    const server = { host: '127.0.0.1', port: 3000 };
    expect(localDaemonUrl({ ...server, publicUrl: 'http://127.0.0.1:3000' })).toBe('http://127.0.0.1:3000');
    expect(localDaemonUrl({ ...server, publicUrl: 'https://claw.example.com/' })).toBe(
      'https://claw.example.com',
    );
    expect(localDaemonUrl({ host: '0.0.0.0', port: 8080, publicUrl: 'http://claw.lan:8080' })).toBe(
      'http://127.0.0.1:8080',
    );
    expect(localDaemonUrl({ host: '::', port: 8080, publicUrl: 'http://claw.lan:8080' })).toBe(
      'http://[::1]:8080',
    );
  });

  it('reads the API token as serve keeps it, and makes none', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-connect-token-'));
    try {
      expect(await readApiToken(null, dir)).toBeNull();
      expect(await readApiToken('from-the-environment', dir)).toBe('from-the-environment');
      await writeFile(path.join(dir, 'api-token'), 'from-the-file\n');
      expect(await readApiToken(null, dir)).toBe('from-the-file');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
