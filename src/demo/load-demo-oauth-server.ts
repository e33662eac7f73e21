import type * as DemoOAuthServer from './demo-oauth-server.js';

/** The first words of oidc-provider's notice on a Node release it does not list (Node 20 among them). */
const RUNTIME_NOTICE = 'oidc-provider WARNING: Unsupported runtime.';

/**
 * Loads the demo's OAuth server. oidc-provider prints a notice on the console as it loads on Node 20,
 * which nanoclaw supports and the demo runs on: that one line is dropped while it loads, every other
 * line (and every error) goes through as it would.
 */
export async function loadDemoOAuthServer(): Promise<typeof DemoOAuthServer> {
  // eslint-disable-next-line no-console -- the notice is written with console.warn
  const warn = console.warn;
  // eslint-disable-next-line no-console
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes(RUNTIME_NOTICE)) return;
    warn(...args);
  };
  try {
    return await import('./demo-oauth-server.js');
  } finally {
    // eslint-disable-next-line no-console
    console.warn = warn;
  }
}
