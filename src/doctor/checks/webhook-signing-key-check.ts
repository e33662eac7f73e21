import type { NangoSettings } from '../../config/types.js';
import { ok, warn, type CheckResult } from '../check-result.js';

const NAME = 'webhook-signing-key';

/** With Nango, auth webhooks are verified with NANGO_WEBHOOK_SIGNING_KEY; the key is never shown. */
export function checkWebhookSigningKey(nango: Pick<NangoSettings, 'webhookSigningKey'> | null): CheckResult {
  if (nango === null) return ok(NAME, 'Nango is not configured; no webhooks to verify');
  if (nango.webhookSigningKey === null) {
    return warn(
      NAME,
      'NANGO_WEBHOOK_SIGNING_KEY is not set: webhooks are checked with the secret key instead, which ' +
        'Nango environments created after 2026-04-20 (or with a rotated key) do not sign with; their auth ' +
        'webhooks would be refused, and new connections would sync only when the page reports them',
      'copy the webhook signing key from the Nango dashboard (Environment Settings) into NANGO_WEBHOOK_SIGNING_KEY',
    );
  }
  return ok(NAME, 'NANGO_WEBHOOK_SIGNING_KEY is set');
}
