/** What the demo consent page shows; every field is escaped before it reaches HTML. */
export interface ConsentPageInput {
  /** Path the two buttons post to; `/allow` and `/deny` are appended. */
  actionPath: string;
  clientName: string;
  userName: string;
  userEmail: string;
  scopes: readonly string[];
}

/** The page headers: no scripts at all, no framing. No `form-action`: browsers apply it to the redirect back to the app. */
export const CONSENT_PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
} as const;

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

const STYLE = `
  body { font: 16px/1.5 system-ui, sans-serif; background: #f4f5f7; color: #1d2330; margin: 0; }
  main { max-width: 26rem; margin: 10vh auto; background: #fff; border-radius: 12px; padding: 2rem;
         box-shadow: 0 2px 12px rgb(0 0 0 / 8%); }
  h1 { font-size: 1.25rem; margin: 0 0 1rem; }
  .who { color: #4a5366; margin: 0 0 1rem; }
  ul { padding-left: 1.25rem; }
  code { background: #eef0f4; padding: 0 .3rem; border-radius: 4px; }
  .buttons { display: flex; gap: .75rem; margin-top: 1.5rem; }
  button { font: inherit; padding: .55rem 1.2rem; border-radius: 8px; border: 1px solid #c6cbd6;
           background: #fff; cursor: pointer; }
  button.allow { background: #1f6feb; border-color: #1f6feb; color: #fff; }
  button:focus-visible { outline: 3px solid #7aa7f7; outline-offset: 2px; }
  .note { color: #6b7385; font-size: .85rem; margin-top: 1.5rem; }
`;

/** The one-step demo sign-in and consent page: the demo user is signed in by pressing Allow. */
export function renderConsentPage(input: ConsentPageInput): string {
  const scopes = input.scopes.length
    ? `<ul>${input.scopes.map((scope) => `<li><code>${escapeHtml(scope)}</code></li>`).join('')}</ul>`
    : '<p>No extra permissions.</p>';
  const action = escapeHtml(input.actionPath);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo sign-in: allow ${escapeHtml(input.clientName)}?</title>
<style>${STYLE}</style>
</head>
<body>
<main>
  <h1><strong>${escapeHtml(input.clientName)}</strong> wants to access your demo account</h1>
  <p class="who">Signed in as ${escapeHtml(input.userName)} (${escapeHtml(input.userEmail)})</p>
  <p>It asks for:</p>
  ${scopes}
  <div class="buttons">
    <form method="post" action="${action}/allow"><button type="submit" class="allow" autofocus>Allow</button></form>
    <form method="post" action="${action}/deny"><button type="submit" class="deny">Deny</button></form>
  </div>
  <p class="note">This is nanoclaw's local demo OAuth server: no password, no real account.</p>
</main>
</body>
</html>
`;
}

/** A short page for an interaction that no longer exists (expired, or opened in another browser). */
export function renderInteractionErrorPage(message: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Demo sign-in</title><style>${STYLE}</style></head>
<body><main><h1>Demo sign-in</h1><p>${escapeHtml(message)}</p></main></body>
</html>
`;
}
