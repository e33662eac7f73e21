import { NanoclawError } from '../errors.js';

/** The owner's connection is not at the source (or is not the owner's). */
export class ConnectionNotFoundError extends NanoclawError {
  constructor(message: string) {
    super('CONNECTION_NOT_FOUND', message);
  }
}

/** The provider has nothing for an owner to authorize (client credentials). */
export class NothingToAuthorizeError extends NanoclawError {
  constructor(message: string) {
    super('NOTHING_TO_AUTHORIZE', message);
  }
}
