/**
 * Every error the product raises carries a stable `code` that scripts and the HTTP API can rely on.
 * The `cause` is kept non-enumerable and out of `toJSON()`: causes from HTTP clients carry request
 * headers (API keys) and raw provider responses (tokens), which must never reach a log or a response.
 */
export class NanoclawError extends Error {
  declare readonly cause?: unknown;

  constructor(
    readonly code: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message);
    this.name = new.target.name;
    Object.defineProperty(this, 'cause', { value: options.cause, enumerable: false, writable: false });
  }

  toJSON(): { code: string; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** A config file, environment variable or command-line value is invalid. */
export class ConfigError extends NanoclawError {
  constructor(
    readonly problems: readonly string[],
    options: { cause?: unknown } = {},
  ) {
    super('INVALID_CONFIG', `invalid configuration:\n  ${problems.join('\n  ')}`, options);
  }
}

/** A name that becomes part of a path (owner, provider, skill) does not match its pattern. */
export class InvalidNameError extends NanoclawError {
  constructor(message: string) {
    super('INVALID_NAME', message);
  }
}

/** The token source rejected our credentials or settings; retrying will not help. */
export class TokenSourceConfigError extends NanoclawError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('TOKEN_SOURCE_CONFIG', message, options);
  }
}

/** The token source cannot be reached or refused a request for a passing reason. */
export class TokenSourceUnavailableError extends NanoclawError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('TOKEN_SOURCE_UNAVAILABLE', message, options);
  }
}

/** The token source answered with something we cannot trust as a token. */
export class InvalidSourceResponseError extends NanoclawError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('INVALID_SOURCE_RESPONSE', message, options);
  }
}

/** Reading or writing the token folder failed. */
export class TokenFolderError extends NanoclawError {
  constructor(
    code: 'TOKEN_WRITE_FAILED' | 'TOKEN_READ_FAILED' | 'TOKEN_FOLDER_INVALID',
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(code, message, options);
  }
}

/** A provider name that the configuration does not define. */
export class UnknownProviderError extends NanoclawError {
  constructor(provider: string) {
    super('UNKNOWN_PROVIDER', `provider "${provider}" is not configured`);
  }
}

/** Describes any thrown value in one line without leaking secrets that may sit in its fields. */
export function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof NanoclawError) return error.toJSON();
  if (error instanceof Error) {
    const raw = (error as Error & { code?: unknown }).code;
    const code = typeof raw === 'string' ? raw : 'INTERNAL';
    return { code, message: error.message };
  }
  return { code: 'INTERNAL', message: 'unexpected non-error value thrown' };
}

/** A command was called with arguments that cannot work. */
export class UsageError extends NanoclawError {
  constructor(message: string) {
    super('USAGE', message);
  }
}
