import type { ProviderConfig } from '../../config/types.js';
import type { TokenSource } from '../../sources/token-source.js';
import type { RouteModule, WebContext } from '../web-context.js';
import { defineRoute, json } from '../server/route.js';

/** Owners shown: the default, the configured ones, and every owner with a token folder. */
async function knownOwners(context: WebContext): Promise<string[]> {
  const { config, tokenSync } = context;
  const owners = new Set([config.defaultOwner, ...config.owners, ...(await tokenSync.folder.listOwners())]);
  return [...owners].sort();
}

/** `GET /api/status` (what the files say, per owner and provider; never a token) and `GET /api/settings`. */
export const statusRoutes: RouteModule = (context) => [
  defineRoute({
    method: 'GET',
    path: '/api/status',
    access: 'api',
    async handle() {
      const owners = await knownOwners(context);
      const rows = await Promise.all(
        owners.map(async (owner) => ({
          owner,
          providers: (await context.tokenSync.status(owner)).map((status) => ({
            provider: status.provider,
            source: status.source,
            state: status.state,
            usable: status.usable,
            expiresAt: status.expiresAt,
            syncedAt: status.syncedAt,
            checkedAt: status.checkedAt,
            refresh: context.refreshState(owner, status.provider),
          })),
        })),
      );
      return json(200, {
        now: new Date().toISOString(),
        defaultOwner: context.config.defaultOwner,
        owners: rows,
        pendingAuth: context.pendingPrompts.list(),
      });
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/settings',
    access: 'api',
    handle() {
      const { config } = context;
      return json(200, {
        defaultOwner: config.defaultOwner,
        nango: config.nango
          ? {
              // What the page passes to openConnectUI; Nango Cloud's own URLs unless self-hosted.
              connectBaseUrl: config.nango.connectBaseUrl ?? 'https://connect.nango.dev',
              connectApiUrl: config.nango.connectApiUrl ?? config.nango.host,
            }
          : null,
        providers: config.providers.map((provider) => ({
          name: provider.name,
          source: provider.source,
          scopes: provider.scopes,
          // The source says whether an owner can authorize it (client credentials: nothing to authorize).
          connectable: isConnectable(context.sources.registry.sourceFor(provider), provider),
        })),
        skills: context.skills !== null,
      });
    },
  }),
];

function isConnectable(source: TokenSource, provider: ProviderConfig): boolean {
  return source.isConnectable?.(provider) ?? source.startConnect !== undefined;
}
