import {
  startDemoOAuthServer,
  type DemoOAuthServer,
  type DemoOAuthServerOptions,
} from '../../src/demo/demo-oauth-server.js';
import { recordSecret } from './secret-scan.js';

export { startDemoOAuthServer, type DemoOAuthServer };

/**
 * A real oidc-provider on 127.0.0.1, port 0: the demo server, as the product ships it. Its client
 * secrets are told to the secret scan, so output of child processes configured with them is
 * checked too (in this process they are only seen once a sync runs).
 */
export async function startTestOidcServer(
  options: Partial<DemoOAuthServerOptions> & Pick<DemoOAuthServerOptions, 'redirectUris'>,
): Promise<DemoOAuthServer> {
  const server = await startDemoOAuthServer({ host: '127.0.0.1', port: 0, ...options });
  recordSecret(server.webClient.clientSecret);
  recordSecret(server.serviceClient.clientSecret);
  return server;
}

/** Cookies of one headless "browser", by name (the demo server is one host, so paths can be ignored). */
export class CookieJar {
  readonly #cookies = new Map<string, string>();

  header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const separator = pair.indexOf('=');
      if (separator <= 0) continue;
      const name = pair.slice(0, separator).trim();
      const value = pair.slice(separator + 1).trim();
      const expired = attributes.some((attribute) => {
        const [key = '', raw = ''] = attribute.split('=').map((part) => part.trim());
        if (key.toLowerCase() === 'max-age') return Number(raw) <= 0;
        if (key.toLowerCase() === 'expires') return Date.parse(raw) <= Date.now();
        return false;
      });
      if (expired || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
}

export interface HeadlessAuthorizationOptions {
  /** What the demo user answers on the consent page. */
  answer: 'allow' | 'deny';
  /** The app's callback URL: the walk stops at the redirect to it instead of following it. */
  callbackUrl: string;
  jar?: CookieJar;
}

type FetchSite = 'none' | 'same-origin' | 'same-site' | 'cross-site';
const SITE_ORDER: FetchSite[] = ['none', 'same-origin', 'same-site', 'cross-site'];

function fetchSiteOf(fromOrigin: string, url: string): FetchSite {
  const target = new URL(url);
  if (target.origin === fromOrigin) return 'same-origin';
  return target.hostname === new URL(fromOrigin).hostname ? 'same-site' : 'cross-site';
}

/** A navigation keeps `none` only while it stays on its origin; otherwise the weakest relation wins. */
function weakerSite(current: FetchSite, hop: FetchSite): FetchSite {
  if (current === 'none' && hop === 'same-origin') return 'none';
  return SITE_ORDER[Math.max(SITE_ORDER.indexOf(current), SITE_ORDER.indexOf(hop))]!;
}

/**
 * Walks an authorization URL like a browser: follows redirects with cookies, presses the consent
 * page's button, and returns the redirect to the app's callback (with code or error) unvisited.
 */
export async function authorizeHeadless(
  authorizationUrl: string,
  options: HeadlessAuthorizationOptions,
): Promise<URL> {
  const jar = options.jar ?? new CookieJar();
  let next: { url: string; method: 'GET' | 'POST' } = { url: authorizationUrl, method: 'GET' };
  // Fetch metadata as a browser sends it: a link opened by hand is `none`; a redirect chain that has
  // left the origin, or a form posted to another origin, is `same-site` or `cross-site`.
  let site: FetchSite = 'none';
  let from = new URL(authorizationUrl).origin;
  for (let step = 0; step < 12; step++) {
    site = weakerSite(site, fetchSiteOf(from, next.url));
    const response = await fetch(next.url, {
      method: next.method,
      redirect: 'manual',
      headers: { cookie: jar.header(), 'sec-fetch-site': site, 'sec-fetch-mode': 'navigate' },
      signal: AbortSignal.timeout(10_000),
    });
    jar.store(response);
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      const target = new URL(location, next.url);
      if (target.href.startsWith(options.callbackUrl)) return target;
      from = new URL(next.url).origin;
      next = { url: target.href, method: 'GET' };
      continue;
    }
    const html = await response.text();
    const form = new RegExp(`<form method="post" action="([^"]+/${options.answer})"`).exec(html);
    if (response.status !== 200 || !form?.[1]) {
      throw new Error(`unexpected page at ${next.url}: HTTP ${response.status}: ${html.slice(0, 300)}`);
    }
    // A form on this page: a new navigation initiated by the page.
    from = new URL(next.url).origin;
    site = 'same-origin';
    next = { url: new URL(form[1], next.url).href, method: 'POST' };
  }
  throw new Error('too many redirects while authorizing');
}
