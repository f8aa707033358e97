/**
 * Size caps of recorded step errors. A step error is stored with the step, copied to its task (`tasks.error`) and
 * into dead-letter snapshots, and served by the API, so an unbounded message (a handler that throws a whole
 * response body) would be stored several times over. The worker caps the message and the stack here, before the
 * record leaves the step runner, and stores only the stack frames: V8 stacks begin with `Name: message`, which
 * would otherwise store the message a second time.
 */
import type { WorkerConfig } from '../config/index.js';

/** Caps applied to a recorded step error (`worker.errors`). */
export interface ErrorLimits {
  /** Largest stored message, in UTF-8 bytes, truncation marker included. */
  maxMessageBytes: number;
  /** Largest stored stack, in UTF-8 bytes, truncation marker included; 0 = store no stack. */
  maxStackBytes: number;
}

/** The defaults of `config/tasker/base/worker.toml`, for runners given no configuration. */
export const DEFAULT_ERROR_LIMITS: ErrorLimits = Object.freeze({
  maxMessageBytes: 8192,
  maxStackBytes: 16384,
});

/** The limits of a worker configuration. */
export function errorLimitsOf(config: WorkerConfig): ErrorLimits {
  return { maxMessageBytes: config.errors.max_message_bytes, maxStackBytes: config.errors.max_stack_bytes };
}

/** The marker appended to a cut text; it says how much was cut so a reader knows the text is incomplete. */
function marker(cutBytes: number): string {
  return `… [truncated ${cutBytes.toLocaleString('en-US')} bytes]`;
}

/**
 * Cuts `text` to at most `maxBytes` UTF-8 bytes, the marker included, at a character boundary (never inside a
 * multi-byte character). Text within the limit is returned unchanged.
 */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const bytes = Buffer.from(text, 'utf8');
  // The marker's length depends on the count it shows; the count's width is bounded by the total's width.
  const room = Math.max(0, maxBytes - Buffer.byteLength(marker(bytes.length), 'utf8'));
  let end = room;
  // Step back over UTF-8 continuation bytes (10xxxxxx) to the start of the character that does not fit.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8') + marker(bytes.length - end);
}

/**
 * The stack frames of an error's stack, without the `Name: message` header V8 puts first. Falls back to the
 * whole stack when it has no recognisable header (a stack set by hand).
 */
export function stackFrames(stack: string, message: string): string {
  if (message !== '') {
    const named = stack.indexOf(`: ${message}`);
    // The header is `Name: message`, starting on the stack's first line.
    if (named !== -1 && !stack.slice(0, named).includes('\n')) {
      return stack.slice(named + 2 + message.length).replace(/^\r?\n/, '');
    }
    if (stack.startsWith(message)) return stack.slice(message.length).replace(/^\r?\n/, '');
  }
  const firstFrame = /\n\s+at /.exec(stack);
  return firstFrame ? stack.slice(firstFrame.index + 1) : stack;
}

/** The stored message and stack of an error, capped by `limits`; the stack keeps only its frames. */
export function cappedErrorText(
  error: { message: string; stack?: string | undefined },
  limits: ErrorLimits,
): { message: string; stack?: string } {
  const message = truncateUtf8(error.message, limits.maxMessageBytes);
  if (limits.maxStackBytes === 0 || typeof error.stack !== 'string' || error.stack === '') return { message };
  const frames = stackFrames(error.stack, error.message);
  return frames === '' ? { message } : { message, stack: truncateUtf8(frames, limits.maxStackBytes) };
}

/**
 * A step's result record with its error (if any) capped by `limits`. The name and code (normally short, but set by
 * handler code) are held to the message cap too.
 */
export function capRecordedError<
  R extends { error?: { name?: string; code?: string; message: string; stack?: string } },
>(record: R, limits: ErrorLimits): R {
  if (!record.error) return record;
  const { stack: _stack, ...rest } = record.error;
  const error = { ...rest, ...cappedErrorText(record.error, limits) };
  if (typeof error.name === 'string') error.name = truncateUtf8(error.name, limits.maxMessageBytes);
  if (typeof error.code === 'string') error.code = truncateUtf8(error.code, limits.maxMessageBytes);
  return { ...record, error };
}
