import { NanoclawError } from '../../errors.js';

export type OAuthFlowErrorCode =
  /** Unknown, expired, already used, for another provider, or started in another browser. */
  | 'OAUTH_STATE_INVALID'
  /** The user (or the provider on their behalf) declined. */
  | 'OAUTH_ACCESS_DENIED'
  /** The provider answered the authorization request with another error. */
  | 'OAUTH_AUTHORIZATION_FAILED'
  /** The callback could not be trusted, or the code could not be exchanged for tokens. */
  | 'OAUTH_EXCHANGE_FAILED';

/**
 * An authorization that cannot complete. The message is safe to show: it names the provider and,
 * when the provider sent one, its OAuth error code, never a code, token or secret. `details.owner`
 * is known once the state matched a started authorization.
 */
export class OAuthFlowError extends NanoclawError {
  constructor(
    code: OAuthFlowErrorCode,
    message: string,
    readonly details: { provider: string | null; owner: string | null; providerError: string | null },
    options: { cause?: unknown } = {},
  ) {
    super(code, message, options);
  }
}

/** The authorization server's metadata could not be fetched or trusted. */
export class DiscoveryError extends NanoclawError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('DISCOVERY_FAILED', message, options);
  }
}

/** The credential store exists but cannot be read: wrong key, tampering or a damaged file. */
export class CredentialStoreError extends NanoclawError {
  constructor(
    code: 'CREDENTIAL_STORE_UNREADABLE' | 'CREDENTIAL_STORE_WRITE_FAILED',
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(code, message, options);
  }
}

/** The encryption key is malformed or its key file is unsafe. */
export class EncryptionKeyError extends NanoclawError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('ENCRYPTION_KEY_INVALID', message, options);
  }
}

/**
 * A refresh succeeded but its answer could not be stored, even after trying again: with a provider
 * that rotates refresh tokens, the new one (the only valid one) is lost. Its access token is not
 * handed out: nanoclaw hands out only what is stored.
 */
export class RefreshAnswerNotStoredError extends NanoclawError {
  constructor(provider: string, attempts: number, options: { cause?: unknown } = {}) {
    super(
      'REFRESH_TOKEN_NOT_STORED',
      `the ${provider} refresh succeeded, but the new refresh token in its answer could not be stored ` +
        `(${attempts} ${attempts === 1 ? 'attempt' : 'attempts'} failed): its access token is not handed out; ` +
        `if ${provider} rotates refresh tokens the grant is lost and must be authorized again`,
      options,
    );
  }
}

/**
 * A provider answered with something we do not read at all: a body over the size limit, or a status
 * HTTP does not have. Nothing of the answer is kept.
 */
export class ProviderAnswerError extends NanoclawError {
  constructor(message: string) {
    super('PROVIDER_ANSWER_REFUSED', message);
  }
}
