import { NanoclawError } from '../errors.js';

/** The runtime was closed: it builds no token source any more. */
export class RuntimeClosedError extends NanoclawError {
  constructor() {
    super('RUNTIME_CLOSED', 'the runtime is closed: its token sources cannot be used any more');
  }
}
