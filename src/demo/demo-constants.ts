// The demo's fixed names, apart from the server so that naming them does not load oidc-provider.

/** The one account of the demo server; pressing Allow signs it in. */
/** The one account of the demo server; pressing Allow signs it in. */
export const DEMO_USER = { id: 'demo-user', name: 'Demo User', email: 'demo@nanoclaw.invalid' } as const;
/** The demo API's resource indicator; its scopes are what the demo provider asks for. */
export const DEMO_RESOURCE = 'urn:nanoclaw:demo';
export const DEMO_SCOPES = ['demo:read', 'demo:write'] as const;
export const DEMO_WEB_CLIENT_ID = 'nanoclaw-demo';
export const DEMO_SERVICE_CLIENT_ID = 'nanoclaw-demo-service';
/** The demo API a skill can call with its token: who the token belongs to and what it allows. */
export const DEMO_API_PATH = '/demo-api/whoami';

/** The demo's provider names in nanoclaw's config. */
export const DEMO_PROVIDER = 'demo';
export const DEMO_SERVICE_PROVIDER = 'demo-service';
