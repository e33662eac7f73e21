export {
  isBrowserBinding,
  newBrowserBinding,
  PENDING_AUTHORIZATION_TTL_MS,
  type ConsumeOutcome,
  type PendingAuthorization,
  type PendingAuthorizationStore,
} from '../../store/pending-authorizations.js';
export {
  PendingAuthorizations,
  type PendingAuthorizationsOptions,
} from '../../store/memory/memory-pending-authorizations.js';
