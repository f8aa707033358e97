import { SQL_ERROR_STATES } from '../contract/names.js';
import { ErrorCode, TaskerError } from '../errors.js';

interface PgErrorLike {
  code?: string;
  constraint?: string;
  message: string;
  hint?: string;
}

function isPgError(e: unknown): e is PgErrorLike {
  return typeof e === 'object' && e !== null && 'message' in e && 'code' in e;
}

/** SQLSTATE classes that mean "the connection or server is unavailable", worth retrying later. */
const CONNECTION_CLASSES = ['08', '57', '53'];

/**
 * query_canceled: the server canceled one statement (statement_timeout, or a cancel request) and the
 * connection stays usable. Class 57 otherwise means the server is going away (57P01 admin shutdown, ...).
 */
const QUERY_CANCELED = '57014';

/** True when an error means the database could not be reached or went away (retry later, nothing is lost). */
export function isConnectionError(e: unknown): boolean {
  if (!isPgError(e)) {
    const msg = e instanceof Error ? e.message : '';
    return /ECONNREFUSED|ECONNRESET|Connection terminated|timeout exceeded when trying to connect/i.test(msg);
  }
  const code = e.code ?? '';
  if (code === QUERY_CANCELED) return false;
  if (CONNECTION_CLASSES.some((c) => code.startsWith(c))) return true;
  return /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT/.test(code);
}

/**
 * True when the server canceled a statement (SQLSTATE 57014: `statement_timeout`, or a cancel request). The
 * database is reachable and the statement's transaction was rolled back: this says nothing about an outage.
 */
export function isStatementTimeout(e: unknown): boolean {
  return isPgError(e) && e.code === QUERY_CANCELED;
}

/**
 * Maps a database error to a typed Tasker error. Our SQL functions raise custom SQLSTATEs (TKxxx); unique
 * violations on known constraints become domain errors; a canceled statement (statement timeout) becomes
 * DATABASE_TIMEOUT; everything else becomes a DATABASE_ERROR that keeps the original as its cause.
 */
export function mapDbError(e: unknown): Error {
  if (e instanceof TaskerError) return e;
  if (!isPgError(e)) return e instanceof Error ? e : new Error(String(e));
  const hint = e.hint ? ` ${e.hint}` : '';
  switch (e.code) {
    case SQL_ERROR_STATES.TemplateNotFound:
      return new TaskerError(ErrorCode.TemplateNotFound, `${e.message}.${hint}`, { cause: e });
    case SQL_ERROR_STATES.TaskNotFound:
      return new TaskerError(ErrorCode.TaskNotFound, e.message, { cause: e });
    case SQL_ERROR_STATES.StepNotFound:
      return new TaskerError(ErrorCode.StepNotFound, e.message, { cause: e });
    case SQL_ERROR_STATES.DlqEntryNotFound:
      return new TaskerError(ErrorCode.DlqEntryNotFound, e.message, { cause: e });
    case SQL_ERROR_STATES.InvalidTransition:
      return new TaskerError(ErrorCode.InvalidTransition, e.message, { cause: e });
    case SQL_ERROR_STATES.QueueNotFound:
      return new TaskerError(ErrorCode.QueueNotFound, `${e.message}.${hint}`, { cause: e });
    case SQL_ERROR_STATES.TemplateConflict:
      return new TaskerError(ErrorCode.TemplateConflict, `${e.message}.${hint}`, { cause: e });
    case SQL_ERROR_STATES.InvalidInput:
      return new TaskerError(ErrorCode.TaskInvalid, `${e.message}.${hint}`, { cause: e });
    case '22P02': // invalid text representation (e.g. a malformed uuid)
    case '22021': // a NUL byte in text
    case '22P05': // a NUL character in jsonb
    case '22008': // date/time out of range
    case '54001': // statement too complex (absurdly nested input)
      return new TaskerError(ErrorCode.TaskInvalid, `invalid input: ${e.message}`, { cause: e });
    case QUERY_CANCELED:
      return new TaskerError(
        ErrorCode.DatabaseTimeout,
        /statement timeout/i.test(e.message)
          ? 'the database statement took longer than the statement timeout ' +
              '(common.database.statement_timeout_ms) and was canceled; nothing it would have written was kept'
          : 'the database statement was canceled on the server; nothing it would have written was kept',
        { cause: e, details: { sqlstate: e.code } },
      );
    case '23505':
      if (e.constraint === 'tasks_identity_hash_key') {
        return new TaskerError(ErrorCode.TaskDuplicate, 'a task with the same identity already exists', {
          cause: e,
        });
      }
      break;
    default:
      break;
  }
  return new TaskerError(ErrorCode.Database, `database error: ${e.message}`, {
    cause: e,
    details: { sqlstate: e.code },
  });
}
