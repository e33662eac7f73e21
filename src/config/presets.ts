import type { ProviderFile } from './schema.js';

/** Well-known providers, so a user gives only a client id and secret. Explicit fields win. */
export const BUILTIN_PRESETS: Record<NonNullable<ProviderFile['preset']>, Partial<ProviderFile>> = {
  google: {
    issuer: 'https://accounts.google.com',
    // Google returns a refresh token only with offline access, and again only with a fresh consent.
    authorizationParams: { access_type: 'offline', prompt: 'consent' },
    tokenEndpointAuthMethod: 'client_secret_post',
  },
  github: {
    authorizationUrl: 'https://github.com/login/oauth/authorize',
    tokenUrl: 'https://github.com/login/oauth/access_token',
    tokenEndpointAuthMethod: 'client_secret_post',
  },
  // Lark (international) and Feishu (China): user OAuth through authen v1 authorize and the v2 token
  // endpoint, which takes a JSON body with the client secret in it. PKCE S256 is sent explicitly.
  lark: {
    authorizationUrl: 'https://accounts.larksuite.com/open-apis/authen/v1/authorize',
    tokenUrl: 'https://open.larksuite.com/open-apis/authen/v2/oauth/token',
    tokenEndpointAuthMethod: 'client_secret_post',
    dialect: 'lark',
  },
  feishu: {
    authorizationUrl: 'https://accounts.feishu.cn/open-apis/authen/v1/authorize',
    tokenUrl: 'https://open.feishu.cn/open-apis/authen/v2/oauth/token',
    tokenEndpointAuthMethod: 'client_secret_post',
    dialect: 'lark',
  },
};
