/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/**
 * The small page an OAuth popup ends on. Its script (a file, since the policy allows no inline
 * script) closes the popup after success; the main page learns of the token from `token_synced`.
 */
export function renderOAuthResultPage(outcome: { ok: boolean; title: string; detail: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(outcome.title)} · nanoclaw</title>
<link rel="stylesheet" href="/assets/style.css">
${outcome.ok ? '<script type="module" src="/assets/oauth-done.js"></script>' : ''}
</head>
<body class="oauth-result">
<main class="card" role="${outcome.ok ? 'status' : 'alert'}">
<h1>${escapeHtml(outcome.title)}</h1>
<p>${escapeHtml(outcome.detail)}</p>
<p class="muted">You can close this window.</p>
</main>
</body>
</html>
`;
}
