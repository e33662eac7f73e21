import type * as Pino from 'pino';
import type { DestinationStream, Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Field names whose values are secrets wherever they appear in a logged object. Errors are logged
 * through `describeError` (code and message only), so causes with request headers never get here.
 */
export const REDACTED_PATHS = [
  'access_token',
  'refresh_token',
  'accessToken',
  'refreshToken',
  'id_token',
  'client_secret',
  'clientSecret',
  'secretKey',
  'apiKey',
  'authorization',
  'cookie',
  'token',
  '*.access_token',
  '*.refresh_token',
  '*.accessToken',
  '*.refreshToken',
  '*.id_token',
  '*.client_secret',
  '*.clientSecret',
  '*.secretKey',
  '*.apiKey',
  '*.authorization',
  '*.cookie',
  '*.token',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
];

export interface LoggerOptions {
  level?: string;
  destination?: DestinationStream;
}

/**
 * Structured JSON logs on stderr (stdout belongs to command output), with secrets redacted, made with
 * the given pino (imported, or required when it is loaded lazily).
 */
export function createLoggerWith(pino: typeof Pino.pino, options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? pino.destination({ fd: 2, sync: true });
  return pino(
    {
      level: options.level ?? 'warn',
      base: undefined,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
