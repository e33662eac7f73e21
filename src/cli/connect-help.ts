/** What `nanoclaw connect --help` says after the options. */
export const CONNECT_HELP = `
Nango providers: the link opens Nango's connect page for this provider only. connect waits until the
owner's new connection appears at Nango, records it and syncs the token.
Built-in providers: the link logs a browser in to nanoclaw once, then goes on to the provider's
sign-in. A running "nanoclaw serve" answers the sign-in when it comes back; when none runs, connect
answers it itself at the configured address (server.port) while it waits. The link works only once.
Client-credentials providers have nothing to authorize: connect syncs their token at once.

With --json, stdout holds these two lines and nothing else, even while waiting:
  {"type":"authorize","provider","owner","source","url","via":"nango|daemon|temporary-server","expiresAt"}
  {"type":"result","provider","owner","source","outcome","link","tokenFile","result","refusal"}
outcome is connected, not-waiting, timeout, refused, interrupted or nothing-to-authorize; result is a row as
"nanoclaw sync --json" prints it, or null. Without a link (client credentials, or stopped before
there was one) only the result line is printed.

Exit codes:
  0    the token is on disk (with --no-wait: the link was printed)
  1    errors: the token source, the daemon or the token folder failed
  2    usage or configuration errors (unknown provider, invalid owner)
  3    the owner did not authorize: the sign-in was refused, or --timeout passed
  130  interrupted (Ctrl-C)
`;
