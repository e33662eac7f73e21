import { z } from 'zod';
import type { RouteModule } from '../web-context.js';
import { defineRoute, json } from '../server/route.js';

/** Sources' webhooks are larger than API calls (Nango's carry connection details). */
export const WEBHOOK_BODY_LIMIT = 256 * 1024;

/**
 * `POST /api/webhooks/:source` (Nango: `/api/webhooks/nango`): not behind the API token; the
 * source checks the signature over the raw body before it is even parsed, and refuses a replay. A
 * bad or missing signature changes nothing.
 */
export const webhookRoutes: RouteModule = (context) => [
  defineRoute({
    method: 'POST',
    path: '/api/webhooks/:source',
    access: 'public',
    anyHost: true,
    rawBody: true,
    bodyLimit: WEBHOOK_BODY_LIMIT,
    params: z.object({
      source: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, { error: 'expected a source kind' }),
    }),
    async handle(request) {
      try {
        const outcome = await context.connections.receiveWebhook(request.params.source, {
          rawBody: request.rawBody ?? Buffer.alloc(0),
          headers: request.headers,
          signal: request.signal,
        });
        return json(200, outcome);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code === 'INVALID_SIGNATURE' || code === 'WEBHOOK_REPLAYED') {
          context.logger.warn({ source: request.params.source, code }, 'refused a webhook');
        }
        throw error;
      }
    },
  }),
];
