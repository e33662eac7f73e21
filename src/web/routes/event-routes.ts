import { z } from 'zod';
import type { RouteModule } from '../web-context.js';
import { defineRoute } from '../server/route.js';

const LAST_EVENT_ID = /^[0-9a-f]{8}-\d{1,15}$/;

/**
 * `GET /api/events`: Server-Sent Events. A reconnect sends `Last-Event-ID` (browsers do it on their
 * own) or `?lastEventId=` and gets what it missed from the log first.
 */
export const eventRoutes: RouteModule = (context) => [
  defineRoute({
    method: 'GET',
    path: '/api/events',
    access: 'api',
    query: z.object({ lastEventId: z.string().max(40).optional() }),
    handle(request) {
      const candidate = request.headers['last-event-id'] ?? request.query.lastEventId ?? null;
      const lastEventId = candidate !== null && LAST_EVENT_ID.test(candidate) ? candidate : null;
      return { kind: 'event-stream', open: (stream) => context.streams.attach(stream, lastEventId) };
    },
  }),
];
