import { describe, expect, it } from 'vitest';
import { checkWebhookSigningKey } from '../../../../src/doctor/checks/webhook-signing-key-check.js';

describe('checkWebhookSigningKey', () => {
  it('has nothing to check without Nango', () => {
    expect(checkWebhookSigningKey(null).status).toBe('ok');
  });

  it('warns, naming the variable, when Nango is used without a signing key', () => {
    const result = checkWebhookSigningKey({ webhookSigningKey: null });
    expect(result.status).toBe('warn');
    expect(result.message).toContain('NANGO_WEBHOOK_SIGNING_KEY is not set');
    expect(result.fix).toContain('NANGO_WEBHOOK_SIGNING_KEY');
  });

  it('passes when it is set, without showing it', () => {
    const result = checkWebhookSigningKey({ webhookSigningKey: 'whsec-value-do-not-print' });
    expect(result.status).toBe('ok');
    expect(JSON.stringify(result)).not.toContain('whsec-value-do-not-print');
  });
});
