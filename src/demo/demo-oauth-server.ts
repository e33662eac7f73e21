import { generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { AddressInfo } from 'node:net';
import {
  DEMO_API_PATH,
  DEMO_RESOURCE,
  DEMO_SCOPES,
  DEMO_SERVICE_CLIENT_ID,
  DEMO_USER,
  DEMO_WEB_CLIENT_ID,
} from './demo-constants.js';
import Provider, { errors, type Configuration, type JWK, type KoaContextWithOIDC } from 'oidc-provider';
import { isLoopbackHost } from '../config/resolve-config.js';
import { CONSENT_PAGE_HEADERS, renderConsentPage, renderInteractionErrorPage } from './consent-page.js';
import { createMemoryAdapterFactory } from './memory-adapter.js';

export {
  DEMO_API_PATH,
  DEMO_RESOURCE,
  DEMO_SCOPES,
  DEMO_SERVICE_CLIENT_ID,
  DEMO_USER,
  DEMO_WEB_CLIENT_ID,
} from './demo-constants.js';

export interface DemoOAuthServerOptions {
  /** A loopback address; the server signs anyone in who presses Allow, so it never listens elsewhere. */
  host?: string;
  port?: number;
  /** Exact redirect URIs of the web client, e.g. `builtinCallbackUrl(publicUrl, 'demo')`. */
  redirectUris: readonly string[];
  /** Secret of the authorization-code client; random per start when not given. */
  clientSecret?: string;
  /** Secret of the client-credentials client; random per start when not given. */
  serviceClientSecret?: string;
  accessTokenTtlSeconds?: number;
  refreshTokenTtlSeconds?: number;
  /**
   * Holds every token-endpoint request this long before it is processed, as a slow or distant
   * server would: concurrent clients then reliably overlap. 0 (the default) answers at once.
   */
  tokenEndpointDelayMs?: number;
}

/** One call that reached the token endpoint; never the tokens themselves. */
export interface DemoTokenRequest {
  grantType: string;
  clientId: string | null;
  status: number;
  /** The OAuth error code of a refused request. */
  error: string | null;
  /** oidc-provider's reason for a refusal (e.g. "PKCE verification failed"), which the client never sees. */
  detail: string | null;
}

export interface DemoClient {
  clientId: string;
  clientSecret: string;
}

export interface DemoOAuthServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`: OIDC discovery lives under it. */
  readonly issuer: string;
  /** Authorization code + PKCE, refresh tokens rotated on every use. */
  readonly webClient: DemoClient & { redirectUris: readonly string[] };
  /** Client credentials only. */
  readonly serviceClient: DemoClient;
  readonly user: typeof DEMO_USER;
  /** Every token-endpoint call so far, oldest first. */
  readonly tokenRequests: readonly DemoTokenRequest[];
  close(): Promise<void>;
}

/**
 * Starts a local OAuth 2.0 / OpenID Connect server (oidc-provider) for the demo and for tests:
 * a one-click consent page for the demo user, PKCE required, refresh-token rotation with replay
 * detection (a replayed refresh token revokes the grant), client credentials, revocation, and a
 * `demo` API resource with its scopes. State is in memory and ends with the server.
 */
export async function startDemoOAuthServer(options: DemoOAuthServerOptions): Promise<DemoOAuthServer> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) {
    throw new Error(`the demo OAuth server listens on loopback only, not on "${host}"`);
  }
  const webClient = {
    clientId: DEMO_WEB_CLIENT_ID,
    clientSecret: options.clientSecret ?? randomBytes(24).toString('base64url'),
    redirectUris: [...options.redirectUris],
  };
  const serviceClient = {
    clientId: DEMO_SERVICE_CLIENT_ID,
    clientSecret: options.serviceClientSecret ?? randomBytes(24).toString('base64url'),
  };
  const tokenRequests: DemoTokenRequest[] = [];
  const tokenEndpointDelayMs = options.tokenEndpointDelayMs ?? 0;
  if (!Number.isInteger(tokenEndpointDelayMs) || tokenEndpointDelayMs < 0) {
    throw new Error(
      `tokenEndpointDelayMs: expected a whole number of milliseconds, got ${tokenEndpointDelayMs}`,
    );
  }
  // Ends the delays of requests still held when the server closes.
  const closing = new AbortController();

  // The issuer names the port, so listen first and hand requests over once the provider exists.
  let handle: (request: IncomingMessage, response: ServerResponse) => void = (_request, response) => {
    response.writeHead(503).end();
  };
  const server = createServer((request, response) => handle(request, response));
  await listen(server, host, options.port ?? 0);
  const { port } = server.address() as AddressInfo;
  const issuer = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const provider = new Provider(
    issuer,
    await providerConfiguration({
      webClient,
      serviceClient,
      accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 3600,
      refreshTokenTtlSeconds: options.refreshTokenTtlSeconds ?? 14 * 24 * 3600,
    }),
  );
  const refusalDetails = new WeakMap<object, string>();
  provider.on('grant.error', (ctx, error) => {
    const detail = (error as { error_detail?: unknown }).error_detail;
    if (typeof detail === 'string') refusalDetails.set(ctx, detail);
  });
  provider.use(async (ctx, next) => {
    if (ctx.method !== 'POST' || ctx.path !== '/token') return next();
    if (tokenEndpointDelayMs > 0) await delay(tokenEndpointDelayMs, undefined, { signal: closing.signal });
    await next();
    const oidc = (ctx as KoaContextWithOIDC).oidc;
    const params = (oidc?.params ?? {}) as Record<string, unknown>;
    const body = ctx.body as { error?: unknown } | undefined;
    tokenRequests.push({
      grantType: typeof params.grant_type === 'string' ? params.grant_type : 'unknown',
      clientId: oidc?.client?.clientId ?? null,
      status: ctx.status,
      error: typeof body?.error === 'string' ? body.error : null,
      detail: refusalDetails.get(ctx) ?? null,
    });
  });
  const providerCallback = provider.callback();
  handle = (request, response) => {
    const pathname = new URL(request.url ?? '/', issuer).pathname;
    if (pathname.startsWith('/interaction/')) {
      void handleInteraction(provider, request, response, pathname);
    } else if (pathname === DEMO_API_PATH) {
      void handleDemoApi(provider, request, response);
    } else {
      providerCallback(request, response);
    }
  };

  let closed: Promise<void> | null = null;
  const close = () => {
    closed ??= new Promise<void>((resolve) => {
      closing.abort();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closed;
  };
  return {
    issuer,
    webClient,
    serviceClient,
    user: DEMO_USER,
    tokenRequests,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

interface ConfigurationInput {
  webClient: DemoClient & { redirectUris: string[] };
  serviceClient: DemoClient;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
}

async function providerConfiguration(input: ConfigurationInput): Promise<Configuration> {
  // Our own keys and cookie secret: oidc-provider's built-in ones are shared development values.
  const privateKey = await new Promise<KeyObject>((resolve, reject) =>
    generateKeyPair('rsa', { modulusLength: 2048 }, (error, _publicKey, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
  const signingKey = { ...(privateKey.export({ format: 'jwk' }) as JWK), alg: 'RS256', use: 'sig' };
  return {
    adapter: createMemoryAdapterFactory(),
    clients: [
      {
        client_id: input.webClient.clientId,
        client_name: 'nanoclaw (demo)',
        client_secret: input.webClient.clientSecret,
        redirect_uris: input.webClient.redirectUris,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: input.serviceClient.clientId,
        client_name: 'nanoclaw service (demo)',
        client_secret: input.serviceClient.clientSecret,
        redirect_uris: [],
        grant_types: ['client_credentials'],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    findAccount: async (_ctx, id) =>
      id === DEMO_USER.id
        ? {
            accountId: id,
            claims: async () => ({ sub: id, name: DEMO_USER.name, email: DEMO_USER.email }),
          }
        : undefined,
    claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // A client revokes its own tokens only.
      revocation: {
        enabled: true,
        allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => DEMO_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== DEMO_RESOURCE) throw new errors.InvalidTarget();
          return {
            scope: DEMO_SCOPES.join(' '),
            audience: DEMO_RESOURCE,
            accessTokenTTL: input.accessTokenTtlSeconds,
            accessTokenFormat: 'opaque',
          };
        },
      },
    },
    pkce: { required: () => true },
    // Every client that may refresh gets a refresh token, without the offline_access ceremony.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    // Rotation on every use: a replayed old refresh token then revokes the whole grant.
    rotateRefreshToken: true,
    ttl: {
      AccessToken: input.accessTokenTtlSeconds,
      ClientCredentials: input.accessTokenTtlSeconds,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Session: 24 * 3600,
      Grant: input.refreshTokenTtlSeconds,
      RefreshToken: input.refreshTokenTtlSeconds,
    },
    clientBasedCORS: () => false,
  };
}

const INTERACTION_PATH = /^\/interaction\/([A-Za-z0-9_-]{1,128})(?:\/(allow|deny))?$/;

async function handleInteraction(
  provider: Provider,
  request: IncomingMessage,
  response: ServerResponse,
  pathname: string,
): Promise<void> {
  try {
    const match = INTERACTION_PATH.exec(pathname);
    const action = match?.[2];
    const method = request.method ?? 'GET';
    if (!match || (action === undefined ? method !== 'GET' : method !== 'POST')) {
      return sendPage(response, 404, renderInteractionErrorPage('There is nothing here.'));
    }
    let interaction;
    try {
      interaction = await provider.interactionDetails(request, response);
    } catch {
      return sendPage(
        response,
        400,
        renderInteractionErrorPage(
          'This sign-in has expired or was started in another browser. Start again from the app.',
        ),
      );
    }
    if (interaction.uid !== match[1]) {
      return sendPage(response, 400, renderInteractionErrorPage('This sign-in does not match your session.'));
    }
    const { prompt, params } = interaction;

    if (action === 'deny') {
      return provider.interactionFinished(
        request,
        response,
        { error: 'access_denied', error_description: 'the demo user denied the request' },
        { mergeWithLastSubmission: false },
      );
    }
    // Pressing Allow signs the demo user in; the consent step that follows was already answered by it.
    const answered = action === 'allow' || interaction.lastSubmission?.login !== undefined;
    if (answered && prompt.name === 'login') {
      return provider.interactionFinished(
        request,
        response,
        { login: { accountId: DEMO_USER.id } },
        { mergeWithLastSubmission: false },
      );
    }
    if (answered && prompt.name === 'consent') {
      const grantId = await grantConsent(provider, interaction);
      return provider.interactionFinished(
        request,
        response,
        { consent: { grantId } },
        { mergeWithLastSubmission: true },
      );
    }
    const client = await provider.Client.find(String(params.client_id));
    sendPage(
      response,
      200,
      renderConsentPage({
        actionPath: `/interaction/${interaction.uid}`,
        clientName: client?.clientName ?? String(params.client_id),
        userName: DEMO_USER.name,
        userEmail: DEMO_USER.email,
        scopes: typeof params.scope === 'string' ? params.scope.split(' ').filter(Boolean) : [],
      }),
    );
  } catch {
    if (!response.headersSent) {
      sendPage(
        response,
        500,
        renderInteractionErrorPage('The demo sign-in failed. Start again from the app.'),
      );
    } else response.end();
  }
}

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/** Grants exactly what the provider found missing for this client and user. */
async function grantConsent(provider: Provider, interaction: Interaction): Promise<string> {
  const details = interaction.prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  const accountId = interaction.session?.accountId ?? DEMO_USER.id;
  const grant =
    (interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined) ??
    new provider.Grant({ accountId, clientId: String(interaction.params.client_id) });
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [resource, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    grant.addResourceScope(resource, scopes.join(' '));
  }
  return grant.save();
}

/** The demo API: answers who a bearer token belongs to, so a demo skill can prove its token works. */
async function handleDemoApi(
  provider: Provider,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const sendJson = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    response.writeHead(status, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      ...headers,
    });
    response.end(JSON.stringify(body));
  };
  const refuse = (error: string) =>
    sendJson(401, { error }, { 'www-authenticate': `Bearer realm="demo", error="${error}"` });
  try {
    if (request.method !== 'GET') return sendJson(405, { error: 'method_not_allowed' });
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(request.headers.authorization ?? '');
    if (!match?.[1]) return refuse('invalid_request');
    const token =
      (await provider.AccessToken.find(match[1])) ?? (await provider.ClientCredentials.find(match[1]));
    if (!token || token.isExpired || token.aud !== DEMO_RESOURCE) return refuse('invalid_token');
    const accountId = 'accountId' in token ? token.accountId : null;
    sendJson(200, {
      sub: accountId,
      name: accountId === DEMO_USER.id ? DEMO_USER.name : null,
      client_id: token.clientId,
      scope: token.scope ?? '',
      expires_at: token.exp ? new Date(token.exp * 1000).toISOString() : null,
    });
  } catch {
    if (!response.headersSent) sendJson(500, { error: 'server_error' });
  }
}

function sendPage(response: ServerResponse, status: number, html: string): void {
  response.writeHead(status, CONSENT_PAGE_HEADERS);
  response.end(html);
}
