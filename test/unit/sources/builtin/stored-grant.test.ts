import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox } from '../../../../src/sources/builtin/secret-box.js';
import {
  parseGrant,
  serializeGrant,
  type StoredGrant,
} from '../../../../src/sources/builtin/stored-grant.js';

const grant: StoredGrant = {
  owner: 'alice',
  provider: 'demo',
  status: 'active',
  accessToken: 'AT-1f9c2e7d-access',
  refreshToken: 'RT-77aa01bb-refresh',
  tokenType: 'Bearer',
  expiresAt: new Date('2030-01-01T01:00:00.000Z'),
  scopes: ['demo:read'],
  authorizedAt: new Date('2030-01-01T00:00:00.000Z'),
  obtainedAt: new Date('2030-01-01T00:00:00.000Z'),
  lastRefreshedAt: null,
  generation: 4,
  needsAuth: null,
  refreshSentAt: null,
};
const where = { owner: 'alice', provider: 'demo', file: '/data/builtin/grants/alice/demo.json' };

describe('grant files', () => {
  const box = new SecretBox(randomBytes(32));

  it('round-trips a grant, with the tokens sealed and the metadata readable', () => {
    const text = serializeGrant(grant, box);
    expect(text).not.toContain(grant.accessToken);
    expect(text).not.toContain(grant.refreshToken);
    expect(JSON.parse(text)).toMatchObject({
      format: 'nanoclaw-grant/1',
      status: 'active',
      expires_at: '2030-01-01T01:00:00.000Z',
      last_refreshed_at: null,
      generation: 4,
      key_id: box.keyId,
    });
    expect(parseGrant(text, box, where)).toEqual(grant);
  });

  it('round-trips a grant that needs authorization', () => {
    const needsAuth: StoredGrant = {
      ...grant,
      status: 'needs_auth',
      accessToken: null,
      refreshToken: null,
      needsAuth: { code: 'GRANT_REVOKED', reason: 'refused', at: new Date('2030-01-02T00:00:00.000Z') },
    };
    expect(parseGrant(serializeGrant(needsAuth, box), box, where)).toEqual(needsAuth);
  });

  it('names the file and the problem, never the tokens', () => {
    const text = serializeGrant(grant, box);
    const other = new SecretBox(randomBytes(32));
    expect(() => parseGrant(text, other, where)).toThrow(
      expect.objectContaining({
        code: 'CREDENTIAL_STORE_UNREADABLE',
        message: expect.stringMatching(
          /^\/data\/builtin\/grants\/alice\/demo\.json: encrypted with another key/,
        ),
      }),
    );
    // A grant file moved to another owner's folder does not open there.
    expect(() => parseGrant(text, box, { ...where, owner: 'bob' })).toThrow(/holds the grant of alice\/demo/);
    const record = JSON.parse(text);
    expect(() =>
      parseGrant(JSON.stringify({ ...record, owner: 'bob' }), box, { ...where, owner: 'bob' }),
    ).toThrow(/access_token cannot be decrypted/);
    expect(() => parseGrant(JSON.stringify({ ...record, status: 'maybe' }), box, where)).toThrow(
      /status: expected "active" or "needs_auth"/,
    );
    expect(() => parseGrant(JSON.stringify({ ...record, expires_at: 'soon' }), box, where)).toThrow(
      /expires_at: expected an ISO 8601 time/,
    );
    expect(() => parseGrant('[]', box, where)).toThrow(/expected a JSON object/);
    try {
      parseGrant(JSON.stringify({ ...record, owner: 'bob' }), box, { ...where, owner: 'bob' });
    } catch (error) {
      const shown = `${(error as Error).message} ${JSON.stringify(error)}`;
      expect(shown).not.toContain(grant.accessToken);
      expect(shown).not.toContain(record.access_token);
    }
  });
});
