/** Exit codes of the `tasker` CLI: stable, documented in `--help` and the README. */
import { CommanderError } from 'commander';
import {
  TaskerAbortError,
  TaskerApiError,
  TaskerConflictError,
  TaskerForbiddenError,
  TaskerNetworkError,
  TaskerNotFoundError,
  TaskerTimeoutError,
  TaskerUnauthorizedError,
  TaskerUnavailableError,
  TaskerValidationError,
} from '../client/index.js';
import { TaskerError } from '../errors.js';

export const ExitCode = {
  /** Success. */
  Ok: 0,
  /** The thing asked about failed: a task ended in error or was cancelled, a template is invalid, unhealthy. */
  Failed: 1,
  /** Usage, configuration or connection problem (bad flags, bad input, unreachable API, refused credentials). */
  Usage: 2,
  /** The task, step, template or entry does not exist. */
  NotFound: 3,
  /** Conflict with the current state (already finished, duplicate, different content under a version). */
  Conflict: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit code table, as printed at the end of `tasker --help`. */
export const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  what was asked about failed (task error/cancelled, wait timed out, template invalid, server unhealthy)
  2  usage, configuration or connection error (bad flags or input, API unreachable, credentials refused)
  3  not found (task, step, template, dead-letter entry)
  4  conflict (task already finished, duplicate task, template version with other content)`;

/** A mistake in how a command was called, found by the command itself (exit code 2). */
export class UsageError extends Error {
  /** What to do about it, printed as `hint: ...` below the error. */
  readonly hint: string | undefined;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = 'UsageError';
    this.hint = hint;
  }
}

/** Something the command looked up locally (e.g. a step by name) does not exist (exit code 3). */
export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/** The exit code for an error that ended a command. */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof CommanderError) {
    return error.code === 'commander.helpDisplayed' || error.code === 'commander.version'
      ? ExitCode.Ok
      : ExitCode.Usage;
  }
  if (error instanceof UsageError) return ExitCode.Usage;
  if (error instanceof NotFoundError) return ExitCode.NotFound;
  if (error instanceof TaskerNotFoundError) return ExitCode.NotFound;
  if (error instanceof TaskerConflictError) return ExitCode.Conflict;
  if (
    error instanceof TaskerValidationError ||
    error instanceof TaskerUnauthorizedError ||
    error instanceof TaskerForbiddenError ||
    error instanceof TaskerUnavailableError ||
    error instanceof TaskerNetworkError ||
    error instanceof TaskerTimeoutError ||
    error instanceof TaskerAbortError
  ) {
    return ExitCode.Usage;
  }
  // Any other API answer (500 and the like) means the request itself failed.
  if (error instanceof TaskerApiError) return ExitCode.Failed;
  // Local engine errors (configuration, handlers, templates on disk) are input problems.
  if (error instanceof TaskerError) return ExitCode.Usage;
  return ExitCode.Failed;
}
