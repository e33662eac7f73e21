import { z } from 'zod';
import { describeError, NanoclawError } from '../../errors.js';
import { newBrowserBinding } from '../../sources/builtin/pending-authorizations.js';
import type { BuiltinSource } from '../../sources/builtin/builtin-source.js';
import { OAuthFlowError } from '../../sources/builtin/builtin-errors.js';
import type { RouteModule, WebContext } from '../web-context.js';
import { HttpError } from '../server/http-error.js';
import { defineRoute, redirect, type RouteResponse } from '../server/route.js';
import { renderOAuthResultPage } from './oauth-result-page.js';
import { ownerId, providerName } from './schemas.js';

/** Ties an authorization's `state` to the browser that started it. */
export const OAUTH_BINDING_COOKIE = 'nanoclaw_oauth_binding';
const BINDING_PATH = '/auth/oauth';
const BINDING_MAX_AGE_SECONDS = 10 * 60;

function builtinSource(context: WebContext): BuiltinSource {
  const source = context.sources.builtin ?? null;
  if (!source) throw new HttpError(404, 'NOT_CONFIGURED', 'no provider uses the built-in OAuth client');
  return source;
}

function resultPage(status: number, ok: boolean, title: string, detail: string): RouteResponse {
  return {
    kind: 'content',
    status,
    contentType: 'text/html; charset=utf-8',
    body: renderOAuthResultPage({ ok, title, detail }),
    headers: {
      'content-security-policy':
        "default-src 'none'; script-src 'self'; style-src 'self'; frame-ancestors 'none'",
      'cache-control': 'no-store',
    },
    cookies: [
      { name: OAUTH_BINDING_COOKIE, value: '', maxAgeSeconds: 0, path: BINDING_PATH, sameSite: 'lax' },
    ],
  };
}

/**
 * The built-in OAuth client's two routes. `start` is authenticated (the page opens it in a popup,
 * with its session, which only counts from the page itself or a link opened by hand) and redirects
 * to the provider; `callback` is public, since it arrives from the
 * provider, and is bound to the starting browser by a lax cookie and the one-time `state`.
 */
export const builtinOAuthRoutes: RouteModule = (context) => [
  defineRoute({
    method: 'GET',
    path: '/auth/oauth/:provider/start',
    access: 'api',
    params: z.strictObject({ provider: providerName }),
    query: z.object({ owner: ownerId.optional() }),
    async handle(request) {
      // A GET, but it links a provider account to an owner: with the ambient session, only a
      // navigation from our page or by the person's own hand may start it.
      if (request.authentication === 'session') context.guard.checkNavigationSource(request.headers);
      const owner = request.query.owner ?? context.config.defaultOwner;
      const binding = newBrowserBinding();
      const { redirectUrl } = await builtinSource(context).beginAuthorization({
        owner,
        provider: request.params.provider,
        browserBinding: binding,
        signal: request.signal,
      });
      return redirect(
        redirectUrl,
        {
          cookies: [
            {
              name: OAUTH_BINDING_COOKIE,
              value: binding,
              maxAgeSeconds: BINDING_MAX_AGE_SECONDS,
              path: BINDING_PATH,
              sameSite: 'lax',
            },
          ],
        },
        302,
      );
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/auth/oauth/:provider/callback',
    access: 'public',
    params: z.strictObject({ provider: providerName }),
    query: z.record(z.string(), z.union([z.string(), z.array(z.string())])),
    async handle(request) {
      const provider = request.params.provider;
      const query = new URLSearchParams();
      for (const [name, value] of Object.entries(request.query)) {
        for (const item of Array.isArray(value) ? value : [value]) query.append(name, item);
      }
      try {
        const done = await builtinSource(context).completeAuthorization({
          provider,
          query,
          browserBinding: request.cookies[OAUTH_BINDING_COOKIE] ?? null,
          signal: request.signal,
        });
        // The grant was just stored: read it into the file, never make the provider refresh it.
        const result = await context.tokenSync.sync(done.owner, done.provider, {
          mode: 'recheck',
          signal: request.signal,
        });
        if (!result.usable) {
          return resultPage(
            502,
            false,
            `${done.provider} is authorized, but no token yet`,
            result.message ?? 'the token could not be fetched; it will be retried',
          );
        }
        return resultPage(
          200,
          true,
          `${done.provider} is connected`,
          `The token for ${done.owner} is in place.`,
        );
      } catch (error) {
        if (!(error instanceof NanoclawError)) throw error;
        const { code, message } = describeError(error);
        context.logger.warn({ provider, code }, 'OAuth callback failed');
        // The page and `nanoclaw connect` wait for this authorization: tell them it ended. Only when
        // the state matched one of ours: this route is public, and any page could call it with junk.
        const owner = error instanceof OAuthFlowError ? error.details.owner : null;
        if (owner) context.events.emit({ type: 'error', code, message, provider, owner });
        return resultPage(
          code === 'OAUTH_ACCESS_DENIED' ? 403 : 400,
          false,
          `Could not connect ${provider}`,
          message,
        );
      }
    },
  }),
];
