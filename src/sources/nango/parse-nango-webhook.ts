import { z } from 'zod';
import { formatPath } from '../../config/interpolate.js';
import { isOwnerId } from '../../names.js';
import { WebhookRejectedError } from '../webhook.js';

/** What a verified Nango webhook asks of us. */
export type NangoWebhook =
  /** An owner finished connecting (creation) or reconnected (override). */
  | { kind: 'connected'; integration: string; connectionId: string; endUserId: string | null }
  /** Nango could not refresh the connection: the owner must authorize again. */
  | {
      kind: 'refresh-failed';
      integration: string;
      connectionId: string;
      endUserId: string | null;
      reason: string;
    }
  | { kind: 'ignored'; reason: string };

const text = (max: number) =>
  z
    .string({ error: 'expected a string' })
    .min(1, { error: 'must not be empty' })
    .max(max, { error: `must be at most ${max} characters` });

// Only the fields we act on are checked; Nango adds fields over time and those must not break us.
const authWebhookSchema = z.object({
  type: z.literal('auth'),
  operation: z.string({ error: 'expected a string' }),
  success: z.boolean({ error: 'expected true or false' }),
  connectionId: text(256),
  providerConfigKey: text(256),
  endUser: z
    .object(
      { endUserId: z.string({ error: 'expected a string' }).optional() },
      { error: 'expected an object' },
    )
    .nullish(),
  // A refresh failure names its end user only here; a creation names it in both places.
  tags: z
    .object(
      { end_user_id: z.string({ error: 'expected a string' }).optional() },
      { error: 'expected an object' },
    )
    .nullish(),
  error: z
    .object(
      { type: z.string().optional(), description: z.string().optional() },
      { error: 'expected an object' },
    )
    .nullish(),
});

/**
 * Reads a verified webhook body. Auth webhooks we act on must be well formed (INVALID_REQUEST
 * otherwise); every other kind is acknowledged and ignored.
 */
export function parseNangoWebhook(value: unknown): NangoWebhook {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new WebhookRejectedError('INVALID_REQUEST', 'body: expected a JSON object');
  }
  const type = (value as { type?: unknown }).type;
  if (type !== 'auth')
    return {
      kind: 'ignored',
      reason: `webhook type ${JSON.stringify(String(type)).slice(0, 40)} is not handled`,
    };
  const parsed = authWebhookSchema.safeParse(value);
  if (!parsed.success) {
    throw new WebhookRejectedError(
      'INVALID_REQUEST',
      parsed.error.issues.map((issue) => `body.${formatPath(issue.path)}: ${issue.message}`).join('; '),
    );
  }
  const webhook = parsed.data;
  const fromEndUser = webhook.endUser?.endUserId ?? null;
  const fromTags = webhook.tags?.end_user_id ?? null;
  if (fromEndUser !== null && !isOwnerId(fromEndUser)) {
    throw new WebhookRejectedError('INVALID_REQUEST', 'body.endUser.endUserId: expected an owner id');
  }
  if (fromTags !== null && !isOwnerId(fromTags)) {
    throw new WebhookRejectedError('INVALID_REQUEST', 'body.tags.end_user_id: expected an owner id');
  }
  const endUserId = fromEndUser ?? fromTags;
  const target = { integration: webhook.providerConfigKey, connectionId: webhook.connectionId, endUserId };
  if ((webhook.operation === 'creation' || webhook.operation === 'override') && webhook.success) {
    return { kind: 'connected', ...target };
  }
  if (webhook.operation === 'refresh' && !webhook.success) {
    const detail = webhook.error?.type ? ` (${webhook.error.type.slice(0, 80)})` : '';
    return { kind: 'refresh-failed', ...target, reason: `Nango could not refresh the connection${detail}` };
  }
  return {
    kind: 'ignored',
    reason: `auth ${webhook.operation.slice(0, 40)} with success=${webhook.success} needs nothing`,
  };
}
