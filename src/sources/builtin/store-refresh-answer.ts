import { sleep } from '../../async/abort.js';
import { RefreshAnswerNotStoredError } from './builtin-errors.js';
import type { CredentialStore } from './credential-store.js';
import type { StoredGrant } from './stored-grant.js';

/** Waits between attempts to store a refresh answer: a full disk or a passing I/O error may clear. */
export const STORE_ANSWER_RETRY_DELAYS_MS: readonly number[] = [100, 400, 1600];

/**
 * Stores the grant built from a refresh answer, trying again a few times, since the answer may hold
 * the only valid refresh token. Called holding the grant's lock, so no other refresh sends the old
 * one meanwhile. An aborted `signal` ends the waiting; the last failure is then reported.
 */
export async function storeRefreshAnswer(
  store: CredentialStore,
  grant: StoredGrant,
  signal: AbortSignal,
  delaysMs: readonly number[] = STORE_ANSWER_RETRY_DELAYS_MS,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await store.write(grant);
      return;
    } catch (error) {
      const delay = delaysMs[attempt - 1];
      const notStored = new RefreshAnswerNotStoredError(grant.provider, attempt, { cause: error });
      if (delay === undefined) throw notStored;
      await sleep(delay, signal).catch(() => {
        throw notStored;
      });
    }
  }
}
