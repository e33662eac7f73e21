/**
 * PostgreSQL's address for messages and logs: `postgres://user@host:port/database`, never the
 * password (a connection string may hold one, in the URL or in its query).
 */
export function describeDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const user = parsed.username ? `${decodeURIComponent(parsed.username)}@` : '';
    return `${parsed.protocol}//${user}${parsed.host}${parsed.pathname}`;
  } catch {
    return 'PostgreSQL (an unreadable connection string)';
  }
}

/** True for a `postgres://` or `postgresql://` URL. */
export function isDatabaseUrl(url: string): boolean {
  try {
    const { protocol, host } = new URL(url);
    return (protocol === 'postgres:' || protocol === 'postgresql:') && host !== '';
  } catch {
    return false;
  }
}

/** Removes every occurrence of the connection string's password from a text (a driver's message). */
export function withoutPassword(text: string, url: string): string {
  let password = '';
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    // No readable URL: nothing to look for but the string itself.
  }
  let clean = text.split(url).join(describeDatabaseUrl(url));
  if (password.length >= 1) clean = clean.split(password).join('***');
  return clean;
}
