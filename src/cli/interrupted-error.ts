import { NanoclawError } from '../errors.js';

/** The user pressed Ctrl-C (or the process got SIGTERM) before the command was done: exit 130. */
export class InterruptedError extends NanoclawError {
  constructor(detail = '', options: { cause?: unknown } = {}) {
    super('INTERRUPTED', `interrupted (Ctrl-C)${detail === '' ? '' : `: ${detail}`}`, options);
  }
}
