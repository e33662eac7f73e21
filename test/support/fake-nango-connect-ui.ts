import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeNangoServer } from './fake-nango-server.js';

/**
 * A minimal stand-in for Nango's Connect UI on loopback: the page `@nangohq/frontend` loads in its
 * iframe. It speaks the same postMessage protocol (`ready` -> `session_token` -> `connect` / `close`),
 * and its "Allow" button finishes the connect session at the fake Nango server the way a real OAuth
 * round trip would: a new connection for the session's end user.
 */
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Connect</title>
<style>
  html, body { margin: 0; height: 100%; font-family: system-ui, sans-serif; }
  body { display: grid; place-items: center; background: rgb(10 14 20 / 55%); }
  .modal { background: #fff; border-radius: 14px; padding: 24px 28px; width: 340px; box-shadow: 0 20px 50px rgb(0 0 0 / 30%); }
  h1 { font-size: 18px; margin: 0 0 8px; }
  p { color: #555; margin: 0 0 18px; }
  .row { display: flex; gap: 8px; justify-content: flex-end; }
  button { font: inherit; padding: 6px 14px; border-radius: 8px; border: 1px solid #ccd; background: #fff; }
  #allow { background: #1f6feb; color: #fff; border-color: #1f6feb; }
</style>
</head>
<body>
<div class="modal" role="dialog" aria-labelledby="title">
  <h1 id="title">Fake Nango Connect</h1>
  <p id="what">Waiting for the session…</p>
  <div class="row">
    <button id="cancel" type="button">Cancel</button>
    <button id="allow" type="button" disabled>Allow access</button>
  </div>
</div>
<script>
  // Like Nango's Connect UI: the session token comes from the parent page (in an iframe) or from the
  // link itself, and the session is read from the API at apiURL, Nango Cloud's unless the URL says.
  const query = new URLSearchParams(location.search);
  const apiURL = query.get('apiURL') || 'https://api.nango.dev';
  let sessionToken = null;
  async function load(token) {
    sessionToken = token;
    try {
      const response = await fetch(apiURL + '/connect/session', { headers: { authorization: 'Bearer ' + token } });
      if (!response.ok) throw new Error('HTTP ' + response.status);
      const session = (await response.json()).data;
      document.getElementById('what').textContent = 'Connect ' + session.allowed_integrations[0] + ' for ' + session.end_user.id + '?';
      document.getElementById('allow').disabled = false;
    } catch {
      document.getElementById('what').textContent = 'An error occurred';
    }
  }
  window.addEventListener('message', (event) => {
    if (!event.data || event.data.type !== 'session_token') return;
    void load(event.data.sessionToken);
  });
  document.getElementById('allow').addEventListener('click', async () => {
    const response = await fetch('complete', { method: 'POST', body: JSON.stringify({ sessionToken }) });
    const done = await response.json();
    document.getElementById('what').textContent = 'Connected';
    if (parent !== window) parent.postMessage({ type: 'connect', payload: { providerConfigKey: done.integration, connectionId: done.connectionId } }, '*');
  });
  document.getElementById('cancel').addEventListener('click', () => parent.postMessage({ type: 'close' }, '*'));
  if (query.get('session_token')) void load(query.get('session_token'));
  else parent.postMessage({ type: 'ready' }, '*');
</script>
</body>
</html>
`;

export class FakeNangoConnectUi implements AsyncDisposable {
  /** Query strings the Connect UI page was loaded with (`apiURL`, ...). */
  readonly pageLoads: URLSearchParams[] = [];
  #server: Server | null = null;
  #url = '';

  private constructor(private readonly nango: FakeNangoServer) {}

  static async start(nango: FakeNangoServer): Promise<FakeNangoConnectUi> {
    const ui = new FakeNangoConnectUi(nango);
    const server = createServer((request, response) => {
      ui.#handle(request, response).catch((error: unknown) => {
        response.writeHead(500, { 'content-type': 'text/plain' });
        response.end(String(error));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    ui.#server = server;
    ui.#url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // Nango's connect links point here, as NANGO_PUBLIC_CONNECT_URL makes them.
    nango.publicConnectUrl = ui.url;
    return ui;
  }

  /** For `NANGO_CONNECT_URL` (the `baseURL` of openConnectUI). */
  get url(): string {
    return this.#url;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.#url);
    if (request.method === 'GET' && url.pathname === '/') {
      this.pageLoads.push(url.searchParams);
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(PAGE);
      return;
    }
    if (request.method === 'GET' && url.pathname === '/session') {
      const session = this.nango.connectSessions.find((each) => each.token === url.searchParams.get('token'));
      if (!session) return this.#json(response, 404, { error: 'unknown session' });
      return this.#json(response, 200, {
        endUserId: session.endUserId,
        integration: session.allowedIntegrations[0] ?? null,
      });
    }
    if (request.method === 'POST' && url.pathname === '/complete') {
      let body = '';
      for await (const chunk of request) body += String(chunk);
      const { sessionToken } = JSON.parse(body) as { sessionToken: string };
      const session = this.nango.connectSessions.find((each) => each.token === sessionToken);
      if (!session) return this.#json(response, 404, { error: 'unknown session' });
      const integration = session.allowedIntegrations[0]!;
      const connection = this.nango.completeConnectSession(sessionToken, integration);
      return this.#json(response, 200, { integration, connectionId: connection.connectionId });
    }
    this.#json(response, 404, { error: 'not found' });
  }

  #json(response: ServerResponse, status: number, body: unknown): void {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = null;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
