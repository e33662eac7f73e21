import { sleep } from '../../async/abort.js';
import { StoreError } from '../../store/store-errors.js';
import { RefreshAnswerNotStoredError } from './builtin-errors.js';
import type { CredentialLock, CredentialStore } from './credential-store.js';
import type { StoredGrant } from './stored-grant.js';

export interface StoreAnswerPolicy {
  /** Waits between attempts after a failed write (a full disk or a passing I/O error may clear). */
  delaysMs: readonly number[];
  /** How long to keep trying while the shared store cannot be reached (STORE_UNAVAILABLE). */
  unreachableForMs: number;
  /** The longest wait between two attempts while it cannot be reached (the waits double up to this). */
  unreachableDelayMaxMs: number;
}

export const STORE_ANSWER_POLICY: StoreAnswerPolicy = {
  delaysMs: [100, 400, 1600],
  unreachableForMs: 60_000,
  unreachableDelayMaxMs: 5_000,
};

/**
 * Stores the grant built from a refresh answer, trying again, since the answer may hold the only
 * valid refresh token: a few times after a failed write, and for up to a minute while a shared store
 * cannot be reached (PostgreSQL restarting). Called holding the grant's lock, so no other refresh
 * sends the old token meanwhile; the first attempt is the lock's last write (`lock`: with
 * PostgreSQL it commits with the lock's release), the others go through the store. With PostgreSQL
 * that lock may be gone by then, so the write is fenced on `replacing` (the generation it replaces)
 * and a grant changed meanwhile is never overwritten (STORE_CONFLICT ends the trying at once), unless
 * what changed it was an earlier attempt of this one whose answer was lost: a write whose connection
 * broke may still have been committed. An aborted `signal` ends the waiting; the last failure is
 * then reported.
 */
export async function storeRefreshAnswer(
  store: CredentialStore,
  grant: StoredGrant,
  replacing: number,
  signal: AbortSignal,
  options: Partial<StoreAnswerPolicy> & { lock?: CredentialLock } = {},
): Promise<void> {
  const { lock, ...policy } = options;
  const { delaysMs, unreachableForMs, unreachableDelayMaxMs } = { ...STORE_ANSWER_POLICY, ...policy };
  const startedAt = Date.now();
  let failedWrites = 0;
  let unreachableDelay = delaysMs[0] ?? 100;
  for (let attempt = 1; ; attempt++) {
    try {
      if (attempt === 1 && lock) await lock.writeLast(grant, replacing);
      else await store.write(grant, replacing);
      return;
    } catch (error) {
      const notStored = new RefreshAnswerNotStoredError(grant.provider, attempt, { cause: error });
      let delay: number | undefined;
      if (error instanceof StoreError && error.code === 'STORE_CONFLICT') {
        if (attempt > 1 && (await holdsAlready(store, grant))) return;
        throw notStored;
      }
      if (error instanceof StoreError && error.code === 'STORE_UNAVAILABLE') {
        const left = unreachableForMs - (Date.now() - startedAt);
        delay = left > 0 ? Math.min(unreachableDelay, left) : undefined;
        unreachableDelay = Math.min(unreachableDelay * 2, unreachableDelayMaxMs);
      } else {
        delay = delaysMs[failedWrites++];
      }
      if (delay === undefined) throw notStored;
      await sleep(delay, signal).catch(() => {
        throw notStored;
      });
    }
  }
}

/** Whether the store holds exactly this grant (its generation and tokens): an earlier attempt wrote it. */
async function holdsAlready(store: CredentialStore, grant: StoredGrant): Promise<boolean> {
  const stored = await store.read(grant.owner, grant.provider).catch(() => null);
  return (
    stored !== null &&
    stored.generation === grant.generation &&
    stored.accessToken === grant.accessToken &&
    stored.refreshToken === grant.refreshToken
  );
}
