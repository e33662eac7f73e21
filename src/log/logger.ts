import { pino } from 'pino';
import { createLoggerWith, type Logger, type LoggerOptions } from './logger-options.js';

export type { Logger } from 'pino';
export { REDACTED_PATHS, type LoggerOptions } from './logger-options.js';

/** Structured JSON logs on stderr (stdout belongs to command output), with secrets redacted. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return createLoggerWith(pino, options);
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
