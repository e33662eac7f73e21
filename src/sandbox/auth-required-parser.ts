import { isProviderName, SCOPE_PATTERN } from '../names.js';

/** What a skill asked for with an `AUTH_REQUIRED:` line. */
export interface AuthRequest {
  provider: string;
  /** As the line gave them; empty when the line named none. */
  scopes: string[];
}

export const AUTH_REQUIRED_PREFIX = 'AUTH_REQUIRED:';

/**
 * Reads one stdout line as `AUTH_REQUIRED:<provider>[:<scope>[,<scope>...]]`. The line must hold
 * nothing else (a trailing `\r` is allowed) and the provider must be one the skill declares;
 * anything else is ordinary output and gives null, so output can never fake a prompt for a
 * provider the skill was not given.
 */
export function parseAuthRequiredLine(
  line: string,
  declaredProviders: ReadonlySet<string>,
): AuthRequest | null {
  if (!line.startsWith(AUTH_REQUIRED_PREFIX)) return null;
  const body = (line.endsWith('\r') ? line.slice(0, -1) : line).slice(AUTH_REQUIRED_PREFIX.length);
  const separator = body.indexOf(':');
  const provider = separator === -1 ? body : body.slice(0, separator);
  if (!isProviderName(provider) || !declaredProviders.has(provider)) return null;
  if (separator === -1) return { provider, scopes: [] };
  // Scopes may hold ':' themselves (URL scopes), so only the first ':' separates.
  const scopes = body.slice(separator + 1).split(',');
  if (!scopes.every((scope) => SCOPE_PATTERN.test(scope))) return null;
  return { provider, scopes };
}
