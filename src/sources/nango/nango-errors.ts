import { NanoclawError } from '../../errors.js';

/**
 * The file that maps owners to Nango connections cannot be read or written. It is never reset: a
 * lost mapping sends owners to connections that are not theirs, or to none (and their tokens away).
 */
export class ConnectionRegistryError extends NanoclawError {
  constructor(
    code: 'CONNECTION_REGISTRY_UNREADABLE' | 'CONNECTION_REGISTRY_WRITE_FAILED',
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(code, message, options);
  }
}
