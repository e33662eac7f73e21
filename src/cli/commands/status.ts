import type { TokenStatus } from '../../tokens/token-sync.js';
import type { CommandResult } from '../command-result.js';
import { EXIT_NEEDS_AUTH, EXIT_OK } from '../../exit-codes.js';
import { selectOwners, type OwnerSelection } from '../owners.js';
import { formatRelative, formatTime, renderTable } from '../output/table.js';
import type { Runtime } from '../../app/runtime.js';

/** What `nanoclaw status --json` prints: a stable shape, documented in the README. */
export interface StatusCommandJson {
  tokens: TokenStatus[];
}

/** `nanoclaw status`: what the token folder holds, per provider; asks no source. */
export async function statusCommand(runtime: Runtime, options: OwnerSelection): Promise<CommandResult> {
  const owners = await selectOwners(runtime, options);
  const tokens = (await Promise.all(owners.map((owner) => runtime.tokenSync.status(owner)))).flat();
  return {
    exitCode: tokens.every((token) => token.usable) ? EXIT_OK : EXIT_NEEDS_AUTH,
    json: { tokens } satisfies StatusCommandJson,
    text:
      tokens.length === 0
        ? 'No providers are configured: add some to nanoclaw.config.yaml.'
        : renderStatus(tokens),
  };
}

function renderStatus(tokens: readonly TokenStatus[]): string {
  const now = Date.now();
  return renderTable(
    ['OWNER', 'PROVIDER', 'SOURCE', 'STATE', 'EXPIRES', 'SYNCED AT'],
    tokens.map((token) => [
      token.owner,
      token.provider,
      token.source,
      token.state,
      token.usable || token.expiresAt ? formatRelative(token.expiresAt, now) : '-',
      formatTime(token.syncedAt),
    ]),
  );
}
