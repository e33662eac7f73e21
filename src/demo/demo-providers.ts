import type { ProviderFile } from '../config/schema.js';
import { DEMO_PROVIDER, DEMO_SCOPES, DEMO_SERVICE_PROVIDER } from './demo-constants.js';
import type { DemoOAuthServer } from './demo-oauth-server.js';

export { DEMO_PROVIDER, DEMO_SERVICE_PROVIDER };

/**
 * Provider entries (as in `nanoclaw.config.yaml`) for a running demo server: `demo` is a user grant
 * with PKCE, `demo-service` a client-credentials grant. They go through the normal config validation.
 */
export function demoProviderEntries(server: DemoOAuthServer): ProviderFile[] {
  return [
    {
      name: DEMO_PROVIDER,
      source: 'builtin',
      issuer: server.issuer,
      clientId: server.webClient.clientId,
      clientSecret: server.webClient.clientSecret,
      scopes: ['openid', DEMO_SCOPES[0]],
    },
    {
      name: DEMO_SERVICE_PROVIDER,
      source: 'builtin',
      grant: 'client_credentials',
      issuer: server.issuer,
      clientId: server.serviceClient.clientId,
      clientSecret: server.serviceClient.clientSecret,
      scopes: [DEMO_SCOPES[0]],
    },
  ];
}
