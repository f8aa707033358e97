import pino, { type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

/** Creates the process logger. Output is JSON lines on stdout; use `pino-pretty` to read them. */
export function createLogger(options: { level?: LevelWithSilent; name?: string } = {}): Logger {
  return pino({ name: options.name ?? 'tasker', level: options.level ?? 'info' });
}

/** A logger that discards everything (library default when the caller passes none). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
