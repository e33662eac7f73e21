import type { RouteModule } from '../web-context.js';
import { HttpError } from '../server/http-error.js';
import { defineRoute, json } from '../server/route.js';

/** Nango's webhooks are larger than API calls (they carry connection details). */
export const WEBHOOK_BODY_LIMIT = 256 * 1024;

/**
 * `POST /api/webhooks/nango`: not behind the API token; the signature over the raw body is its
 * guard, checked before the body is even parsed. A bad or missing signature changes nothing.
 */
export const webhookRoutes: RouteModule = (context) => [
  defineRoute({
    method: 'POST',
    path: '/api/webhooks/nango',
    access: 'public',
    anyHost: true,
    rawBody: true,
    bodyLimit: WEBHOOK_BODY_LIMIT,
    async handle(request) {
      if (!context.connections.hasNango) {
        throw new HttpError(404, 'NOT_CONFIGURED', 'Nango is not configured (NANGO_SECRET_KEY)');
      }
      const raw = request.rawBody ?? Buffer.alloc(0);
      if (!context.connections.verifyNangoWebhook(raw, request.headers)) {
        context.logger.warn('rejected a Nango webhook with a bad or missing signature');
        throw new HttpError(
          401,
          'INVALID_SIGNATURE',
          'the X-Nango-Hmac-Sha256 signature does not match the body',
        );
      }
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new HttpError(400, 'INVALID_JSON', 'body: not valid JSON');
      }
      const outcome = await context.connections.handleNangoWebhook(body, request.signal);
      return json(200, outcome);
    },
  }),
];
