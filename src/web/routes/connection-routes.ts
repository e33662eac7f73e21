import { z } from 'zod';
import type { RouteModule } from '../web-context.js';
import { defineRoute, json } from '../server/route.js';
import { ownerAndProvider, ownerId, providerName } from './schemas.js';

/**
 * Connecting a provider for an owner: `POST /api/connect-sessions` (a Nango connect session, or the
 * built-in flow's start URL), `POST /api/auth/complete` (record and sync at once) and
 * `DELETE /api/connections/:owner/:provider`.
 */
export const connectionRoutes: RouteModule = (context) => [
  defineRoute({
    method: 'POST',
    path: '/api/connect-sessions',
    access: 'api',
    body: ownerAndProvider,
    async handle(request) {
      const start = await context.connections.startConnect(
        request.body.owner,
        request.body.provider,
        request.signal,
      );
      return json(200, start);
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/api/auth/complete',
    access: 'api',
    body: z.strictObject({
      owner: ownerId,
      provider: providerName,
      connectionId: z
        .string({ error: 'expected a connection id' })
        .min(1, { error: 'must not be empty' })
        .max(256, { error: 'must be at most 256 characters' })
        .optional(),
    }),
    async handle(request) {
      const { owner, provider, connectionId } = request.body;
      const result = await context.connections.completeAuthorization(
        owner,
        provider,
        connectionId ?? null,
        request.signal,
      );
      return json(200, result);
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/api/connections/:owner/:provider',
    access: 'api',
    params: ownerAndProvider,
    async handle(request) {
      const { owner, provider } = request.params;
      await context.connections.disconnect(owner, provider, request.signal);
      return json(200, { owner, provider, disconnected: true });
    },
  }),
];
