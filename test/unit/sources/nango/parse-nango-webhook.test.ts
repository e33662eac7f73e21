import { describe, expect, it } from 'vitest';
import { parseNangoWebhook } from '../../../../src/sources/nango/parse-nango-webhook.js';

const auth = {
  from: 'nango',
  type: 'auth',
  operation: 'creation',
  success: true,
  connectionId: 'c-1',
  providerConfigKey: 'google-calendar',
  provider: 'google',
  authMode: 'OAUTH2',
  environment: 'prod',
  endUser: { endUserId: 'alice', endUserEmail: 'a@example.com', tags: {} },
};

describe('parseNangoWebhook', () => {
  it('reads a successful creation or override as a new connection of the end user', () => {
    expect(parseNangoWebhook(auth)).toEqual({
      kind: 'connected',
      integration: 'google-calendar',
      connectionId: 'c-1',
      endUserId: 'alice',
    });
    expect(parseNangoWebhook({ ...auth, operation: 'override', endUser: undefined })).toMatchObject({
      kind: 'connected',
      endUserId: null,
    });
  });

  it('reads a failed refresh as needing authorization, with the error type as the reason', () => {
    expect(
      parseNangoWebhook({ ...auth, operation: 'refresh', success: false, error: { type: 'invalid_grant' } }),
    ).toEqual({
      kind: 'refresh-failed',
      integration: 'google-calendar',
      connectionId: 'c-1',
      endUserId: 'alice',
      reason: 'Nango could not refresh the connection (invalid_grant)',
    });
  });

  it('reads the end user of a refresh failure from the top-level tags, as Nango sends it', () => {
    // A real refresh-failure webhook: no endUser, the end user only in tags.end_user_id.
    const { endUser: _none, ...withoutEndUser } = auth;
    expect(
      parseNangoWebhook({
        ...withoutEndUser,
        operation: 'refresh',
        success: false,
        error: { type: 'refresh_token_external_error', description: 'invalid_grant' },
        tags: { end_user_id: 'alice', end_user_email: 'a@example.com' },
      }),
    ).toMatchObject({ kind: 'refresh-failed', connectionId: 'c-1', endUserId: 'alice' });
    expect(() =>
      parseNangoWebhook({
        ...withoutEndUser,
        operation: 'refresh',
        success: false,
        tags: { end_user_id: '../x' },
      }),
    ).toThrow('body.tags.end_user_id: expected an owner id');
  });

  it('ignores other webhooks and auth results that need nothing', () => {
    expect(parseNangoWebhook({ type: 'sync', connectionId: 'x' }).kind).toBe('ignored');
    expect(parseNangoWebhook({ ...auth, success: false }).kind).toBe('ignored');
    expect(parseNangoWebhook({ ...auth, operation: 'refresh', success: true }).kind).toBe('ignored');
  });

  it('refuses malformed auth webhooks with path: message problems', () => {
    expect(() => parseNangoWebhook([])).toThrow('body: expected a JSON object');
    expect(() => parseNangoWebhook({ ...auth, connectionId: 5 })).toThrow(
      'body.connectionId: expected a string',
    );
    expect(() => parseNangoWebhook({ ...auth, success: 'yes' })).toThrow(
      'body.success: expected true or false',
    );
    expect(() => parseNangoWebhook({ ...auth, endUser: { endUserId: 'bad/owner' } })).toThrow(
      'body.endUser.endUserId: expected an owner id',
    );
    expect(() => parseNangoWebhook({ ...auth, providerConfigKey: '' })).toThrow(
      expect.objectContaining({
        code: 'INVALID_REQUEST',
        message: expect.stringContaining('body.providerConfigKey: must not be empty'),
      }),
    );
  });
});
