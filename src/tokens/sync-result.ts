/** How one (owner, provider) came out of a sync. */
export type SyncState = 'fresh' | 'refreshed' | 'needs-auth' | 'unavailable' | 'error';

/**
 * The stable shape of `nanoclaw sync --json` rows and of the API. Never holds a token.
 */
export interface SyncResult {
  owner: string;
  provider: string;
  state: SyncState;
  /** A token file that has not expired is on disk, whatever happened now. */
  usable: boolean;
  /** The source was asked. */
  fetched: boolean;
  expiresAt: string | null;
  syncedAt: string | null;
  /** Why the state is not fresh or refreshed: a stable code and a sentence. */
  code: string | null;
  message: string | null;
  /** For `unavailable`: when asking again makes sense. */
  retryAfterMs: number | null;
}
