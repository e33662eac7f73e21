// Zod's tree-shakable form: every command builds the runtime that holds this module.
import * as z from 'zod/mini';
import type { NanoclawEvent } from '../../events/types.js';

/** Events one host raises that the pages connected to other hosts must see. */
export const SHARED_EVENT_TYPES: ReadonlySet<NanoclawEvent['type']> = new Set([
  'auth_required',
  'token_synced',
  'token_needs_auth',
]);

/** NOTIFY payloads are limited to 8000 bytes; an event is far smaller, anything bigger is not sent. */
export const MAX_SHARED_EVENT_BYTES = 7_900;

const nonEmpty = () => z.string().check(z.minLength(1));
const base = { at: z.iso.datetime({ offset: true }), owner: nonEmpty(), provider: nonEmpty() };

/** Every field of every shared event, checked before another host's event reaches this host's bus. */
const sharedEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('auth_required'),
    ...base,
    scopes: z.array(z.string()),
    skill: z.nullable(z.string()),
    runId: z.nullable(z.string()),
    connectUrl: z.nullable(z.string()),
  }),
  z.object({ type: z.literal('token_synced'), ...base, expiresAt: z.nullable(z.string()) }),
  z.object({ type: z.literal('token_needs_auth'), ...base, reason: z.string() }),
]);

const envelopeSchema = z.object({
  origin: z.string().check(z.minLength(1), z.maxLength(64)),
  event: sharedEventSchema,
});

export interface SharedEvent {
  /** The host that raised it: a host does not hear its own events twice. */
  origin: string;
  /**
   * Counts the origin's events: PostgreSQL drops a notification that repeats another of the same
   * transaction, and one statement carries many events. Left out of what a host reads back.
   */
  sequence?: number;
  event: NanoclawEvent;
}

export type EncodedEvent = { ok: true; payload: string } | { ok: false; bytes: number };

/** The NOTIFY payload of an event, or its size when it is too big to send. */
export function encodeSharedEvent(origin: string, event: NanoclawEvent, sequence?: number): EncodedEvent {
  const payload = JSON.stringify({ origin, sequence, event } satisfies SharedEvent);
  const bytes = Buffer.byteLength(payload);
  return bytes > MAX_SHARED_EVENT_BYTES ? { ok: false, bytes } : { ok: true, payload };
}

export type DecodedEvent = { ok: true; shared: SharedEvent } | { ok: false; problem: string };

/**
 * Another host's event, checked field by field (unknown fields are left out); the problem names the
 * fields at fault, never their values.
 */
export function decodeSharedEvent(payload: string): DecodedEvent {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return { ok: false, problem: 'not JSON' };
  }
  const parsed = envelopeSchema.safeParse(value);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((issue) => issue.path.join('.') || '(the event)'))];
    return { ok: false, problem: `unexpected ${fields.join(', ')}` };
  }
  return { ok: true, shared: parsed.data as SharedEvent };
}
