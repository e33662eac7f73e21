import { NanoclawError } from '../errors.js';

/** A webhook as it arrived: the raw body (signatures cover it byte for byte) and the headers. */
export interface WebhookDelivery {
  rawBody: Buffer;
  headers: Readonly<Record<string, string | undefined>>;
  signal: AbortSignal;
}

export interface WebhookTarget {
  owner: string;
  provider: string;
}

/** What a webhook asks of us: tokens to sync now, and tokens the owner must authorize again. */
export type WebhookResult =
  | {
      handled: true;
      sync: WebhookTarget[];
      needsAuth: (WebhookTarget & { reason: string })[];
      /**
       * Forgets the delivery, so a retry of it is acted on again. The caller calls it when the work
       * the webhook asks for (syncs, removals) failed; a source without a replay guard leaves it out.
       */
      forget?: () => void;
    }
  | { handled: false; reason: string };

export type WebhookRejectionCode =
  /** The signature is missing or does not match the body. */
  | 'INVALID_SIGNATURE'
  /** The body is not JSON. */
  | 'INVALID_JSON'
  /** A webhook we act on is malformed. */
  | 'INVALID_REQUEST'
  /** The same signed delivery arrived again within the replay window. */
  | 'WEBHOOK_REPLAYED';

/** A webhook refused before anything changed. */
export class WebhookRejectedError extends NanoclawError {
  constructor(code: WebhookRejectionCode, message: string) {
    super(code, message);
  }
}
