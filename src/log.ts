import { pino } from 'pino';

/**
 * What polyloop needs from a logger: the subset of pino's interface it calls. Pass any pino
 * logger (or a child of yours) as the `logger` option.
 */
export interface Logger {
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

let fallback: Logger | undefined;

/**
 * The logger used when none is given: pino to stderr (stdout stays for the program's own output),
 * level from `POLYLOOP_LOG_LEVEL`, default `warn`.
 */
export function defaultLogger(): Logger {
  fallback ??= pino(
    { name: 'polyloop', level: process.env['POLYLOOP_LOG_LEVEL'] ?? 'warn' },
    pino.destination({ fd: 2, sync: true }),
  );
  return fallback;
}
