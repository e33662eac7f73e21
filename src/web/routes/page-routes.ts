import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { RouteModule, WebContext } from '../web-context.js';
import { SESSION_COOKIE } from '../auth/request-guard.js';
import { HttpError } from '../server/http-error.js';
import { defineRoute, redirect, type RouteResponse } from '../server/route.js';
import { localPath } from './schemas.js';

/** The page's own files, next to this module's folder. */
export const PAGE_DIR = fileURLToPath(new URL('../page/', import.meta.url));

const PAGE_FILES: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'oauth-done.js': 'text/javascript; charset=utf-8',
};

/** `@nangohq/frontend` is a plain ES module bundle whose files import each other relatively. */
const NANGO_FRONTEND_FILES = new Set(['index.js', 'connectUI.js', 'authModal.js', 'types.js']);

function nangoFrontendDir(): string | null {
  try {
    return path.dirname(createRequire(import.meta.url).resolve('@nangohq/frontend'));
  } catch {
    return null;
  }
}

/**
 * The page runs only our own scripts and styles, talks only to us, and frames only Nango's Connect
 * UI (when Nango is configured); nothing may frame the page.
 */
export function pageSecurityPolicy(context: WebContext): string {
  const connect =
    context.config.nango?.connectBaseUrl ?? (context.config.nango ? 'https://connect.nango.dev' : null);
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    `frame-src ${connect ? new URL(connect).origin : "'none'"}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "object-src 'none'",
  ].join('; ');
}

/** `/` (with the one-time login link), the page's scripts and styles, and the Nango frontend bundle. */
export const pageRoutes: RouteModule = (context) => {
  const cache = new Map<string, Promise<Buffer>>();
  const load = (file: string) => {
    let loaded = cache.get(file);
    if (!loaded) {
      loaded = readFile(file);
      // A failed read is retried next time rather than cached.
      loaded.catch(() => cache.delete(file));
      cache.set(file, loaded);
    }
    return loaded;
  };
  const htmlHeaders = () => ({
    'content-security-policy': pageSecurityPolicy(context),
    'x-frame-options': 'DENY',
    'cache-control': 'no-cache',
  });
  const vendorDir = nangoFrontendDir();

  return [
    defineRoute({
      method: 'GET',
      path: '/',
      access: 'public',
      query: z.object({ token: z.string().max(512).optional(), next: localPath.optional() }),
      async handle(request): Promise<RouteResponse> {
        if (request.query.token !== undefined) {
          // The login link is spent on first use, and the token leaves the address bar at once.
          if (!(await context.sessions.redeemLoginCode(request.query.token)))
            return redirect('/?login=expired');
          const session = context.sessions.createSession();
          await context.sessions.flush();
          // `next` lets a terminal link log in and go straight on, e.g. to an authorization start.
          return redirect(request.query.next ?? '/', {
            cookies: [
              { name: SESSION_COOKIE, value: session, maxAgeSeconds: context.sessions.sessionTtlSeconds },
            ],
          });
        }
        return {
          kind: 'content',
          status: 200,
          contentType: 'text/html; charset=utf-8',
          body: await load(path.join(PAGE_DIR, 'index.html')),
          headers: htmlHeaders(),
        };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/assets/:file',
      access: 'public',
      params: z.object({ file: z.string().max(64) }),
      async handle(request): Promise<RouteResponse> {
        const contentType = PAGE_FILES[request.params.file];
        if (!contentType) throw new HttpError(404, 'NOT_FOUND', 'no such file');
        return {
          kind: 'content',
          status: 200,
          contentType,
          body: await load(path.join(PAGE_DIR, request.params.file)),
          headers: { 'cache-control': 'no-cache' },
        };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/vendor/nango-frontend/:file',
      access: 'public',
      params: z.object({ file: z.string().max(64) }),
      async handle(request): Promise<RouteResponse> {
        if (vendorDir === null || !NANGO_FRONTEND_FILES.has(request.params.file)) {
          throw new HttpError(404, 'NOT_FOUND', 'no such file');
        }
        return {
          kind: 'content',
          status: 200,
          contentType: 'text/javascript; charset=utf-8',
          body: await load(path.join(vendorDir, request.params.file)),
          headers: { 'cache-control': 'max-age=3600' },
        };
      },
    }),
  ];
};
