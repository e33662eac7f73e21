import type { NangoSettings } from '../../config/types.js';
import { ok, warn, type CheckResult } from '../check-result.js';

const NAME = 'webhook-signing-key';

/** With Nango, auth webhooks are verified with NANGO_WEBHOOK_SIGNING_KEY; the key is never shown. */
export function checkWebhookSigningKey(nango: Pick<NangoSettings, 'webhookSigningKey'> | null): CheckResult {
  if (nango === null) return ok(NAME, 'Nango is not configured; no webhooks to verify');
  if (nango.webhookSigningKey === null) {
    return warn(
      NAME,
      'NANGO_WEBHOOK_SIGNING_KEY is not set: Nango auth webhooks will be refused, so new connections sync only when the page reports them',
      'copy the webhook signing key from the Nango dashboard (Environment Settings) into NANGO_WEBHOOK_SIGNING_KEY',
    );
  }
  return ok(NAME, 'NANGO_WEBHOOK_SIGNING_KEY is set');
}
