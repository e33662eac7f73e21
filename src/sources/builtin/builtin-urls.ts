/**
 * The daemon's own OAuth routes. The callback must match the redirect URI registered at the provider
 * byte for byte, so every part of the product builds it here.
 */
export function builtinCallbackUrl(publicUrl: string, provider: string): string {
  return `${trimSlashes(publicUrl)}/auth/oauth/${encodeURIComponent(provider)}/callback`;
}

/** Where an owner starts authorizing a provider (an authenticated route that redirects to the provider). */
export function builtinStartUrl(publicUrl: string, provider: string, owner: string): string {
  return `${trimSlashes(publicUrl)}${builtinStartPath(provider, owner)}`;
}

/** The start route's path on this server, e.g. for a login link's `next`. */
export function builtinStartPath(provider: string, owner: string): string {
  return `/auth/oauth/${encodeURIComponent(provider)}/start?owner=${encodeURIComponent(owner)}`;
}

function trimSlashes(url: string): string {
  return url.replace(/\/+$/, '');
}
