import { NanoclawError } from '../errors.js';

/** The token sync was closed (the daemon or a command is shutting down): no request was finished. */
export class TokenSyncClosedError extends NanoclawError {
  constructor() {
    super('TOKEN_SYNC_CLOSED', 'the token sync is closed');
  }
}
