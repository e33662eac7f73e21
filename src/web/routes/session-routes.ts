import { z } from 'zod';
import type { RouteModule } from '../web-context.js';
import { SESSION_COOKIE } from '../auth/request-guard.js';
import { HttpError } from '../server/http-error.js';
import { defineRoute, json } from '../server/route.js';
import { loginLink } from '../auth/login-link.js';
import { localPath } from './schemas.js';

/** `POST /api/session {token}` logs the page in with the API token; `DELETE /api/session` logs out. */
export const sessionRoutes: RouteModule = (context) => [
  defineRoute({
    method: 'POST',
    path: '/api/session',
    access: 'public',
    body: z.strictObject({ token: z.string({ error: 'expected the API token' }).min(1).max(512) }),
    async handle(request) {
      // A login from another site would plant our session in the user's browser (login CSRF).
      const origin = request.headers.origin;
      if (origin !== undefined && !context.guard.isAllowedOrigin(origin)) {
        throw new HttpError(403, 'FORBIDDEN_ORIGIN', 'log in from the page itself');
      }
      if (!context.guard.isApiToken(request.body.token)) {
        throw new HttpError(401, 'UNAUTHORIZED', 'that is not the API token');
      }
      const session = context.sessions.createSession();
      // The next request may reach another host behind the same address: the session is there first.
      await context.sessions.flush();
      return json(
        200,
        { loggedIn: true },
        {
          cookies: [
            { name: SESSION_COOKIE, value: session, maxAgeSeconds: context.sessions.sessionTtlSeconds },
          ],
        },
      );
    },
  }),
  defineRoute({
    // For the CLI on the same host (`nanoclaw connect`): a link that logs a browser in and goes on.
    method: 'POST',
    path: '/api/login-links',
    access: 'api',
    body: z.strictObject({ next: localPath.optional() }),
    async handle(request) {
      const code = context.sessions.createLoginCode();
      // The link may be opened on any host: it is recorded where all of them look before it goes out.
      await context.sessions.flush();
      return json(201, { url: loginLink(context.publicUrl(), code, request.body.next) });
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/api/session',
    access: 'api',
    async handle(request) {
      await context.sessions.endSession(request.cookies[SESSION_COOKIE]);
      return json(
        200,
        { loggedIn: false },
        { cookies: [{ name: SESSION_COOKIE, value: '', maxAgeSeconds: 0 }] },
      );
    },
  }),
];
