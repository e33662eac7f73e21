import { describe, expect, it } from 'vitest';
import { RequestGuard, SESSION_COOKIE } from '../../../src/web/auth/request-guard.js';
import { SessionStore } from '../../../src/web/auth/session-store.js';

const TOKEN = 'the-api-token-0123456789abcdef';
const ORIGIN = 'http://127.0.0.1:3000';

function guard() {
  const sessions = new SessionStore();
  return { sessions, guard: new RequestGuard({ apiToken: TOKEN, sessions, allowedOrigins: () => [ORIGIN] }) };
}

const codeOf = async (run: () => unknown) => {
  try {
    await run();
    return null;
  } catch (error) {
    return (error as { code: string }).code;
  }
};

describe('RequestGuard', () => {
  it('accepts the API token as a Bearer header, on any method, without an Origin', async () => {
    const { guard: subject } = guard();
    for (const method of ['GET', 'POST', 'DELETE'] as const) {
      expect(
        await subject.authenticate({ method, headers: { authorization: `Bearer ${TOKEN}` }, cookies: {} }),
      ).toBe('token');
    }
    expect(
      await subject.authenticate({
        method: 'GET',
        headers: { authorization: `bearer  ${TOKEN}` },
        cookies: {},
      }),
    ).toBe('token');
  });

  it('refuses a wrong or malformed Authorization header even with a valid session', async () => {
    const { guard: subject, sessions } = guard();
    const cookies = { [SESSION_COOKIE]: sessions.createSession() };
    for (const authorization of [`Bearer ${TOKEN}x`, `Basic ${TOKEN}`, TOKEN, 'Bearer ']) {
      expect(
        await codeOf(() => subject.authenticate({ method: 'GET', headers: { authorization }, cookies })),
      ).toBe('UNAUTHORIZED');
    }
  });

  it('accepts a session for reads, and for changes only from our own Origin', async () => {
    const { guard: subject, sessions } = guard();
    const cookies = { [SESSION_COOKIE]: sessions.createSession() };
    expect(await subject.authenticate({ method: 'GET', headers: {}, cookies })).toBe('session');
    expect(await subject.authenticate({ method: 'POST', headers: { origin: ORIGIN }, cookies })).toBe(
      'session',
    );
    expect(
      await subject.authenticate({ method: 'DELETE', headers: { origin: 'HTTP://127.0.0.1:3000' }, cookies }),
    ).toBe('session');
    for (const origin of [
      undefined,
      'null',
      'http://127.0.0.1:3001',
      'http://localhost:3000',
      'https://127.0.0.1:3000',
    ]) {
      expect(await codeOf(() => subject.authenticate({ method: 'POST', headers: { origin }, cookies }))).toBe(
        'FORBIDDEN_ORIGIN',
      );
    }
  });

  it('refuses requests with neither credential', async () => {
    const { guard: subject } = guard();
    expect(await codeOf(() => subject.authenticate({ method: 'GET', headers: {}, cookies: {} }))).toBe(
      'UNAUTHORIZED',
    );
    expect(
      await codeOf(() =>
        subject.authenticate({ method: 'GET', headers: {}, cookies: { [SESSION_COOKIE]: 'made-up' } }),
      ),
    ).toBe('UNAUTHORIZED');
  });

  it('answers only for the hosts of its origins', async () => {
    const { guard: subject } = guard();
    expect(() => subject.checkHost({ host: '127.0.0.1:3000' })).not.toThrow();
    expect(await codeOf(() => subject.checkHost({ host: 'rebound.example:3000' }))).toBe('FORBIDDEN_HOST');
    expect(await codeOf(() => subject.checkHost({}))).toBe('FORBIDDEN_HOST');
  });
});
