import { createRequire } from 'node:module';
import type * as Pino from 'pino';
import { createLoggerWith, type Logger, type LoggerOptions } from './logger-options.js';

/** pino's numbers for its levels; a call below the configured one is dropped before pino is loaded. */
const LEVEL_VALUES: Readonly<Record<string, number>> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Infinity,
};

/**
 * The same logger as `createLogger`, loading pino only when a line is written at an enabled level:
 * a command that logs nothing (a warm `nanoclaw sync`, a `status`) never pays for it. pino is loaded
 * synchronously, from its CommonJS build, the moment the first such line comes.
 */
export function createLazyLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'warn';
  const threshold = LEVEL_VALUES[level] ?? 0;
  let real: Logger | null = null;
  const load = (): Logger => {
    real ??= createLoggerWith((createRequire(import.meta.url)('pino') as typeof Pino).pino, options);
    return real;
  };
  const skip = () => {};
  return new Proxy({} as Logger, {
    get(_target, property) {
      if (real === null) {
        if (property === 'level') return level;
        if (property === 'isLevelEnabled') {
          return (name: string) => (LEVEL_VALUES[name] ?? 0) >= threshold;
        }
        const value = typeof property === 'string' ? LEVEL_VALUES[property] : undefined;
        if (value !== undefined && value < threshold) return skip;
      }
      const logger = load();
      const member: unknown = Reflect.get(logger, property, logger);
      return typeof member === 'function' ? member.bind(logger) : member;
    },
  });
}
