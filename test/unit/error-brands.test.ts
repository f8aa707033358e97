import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as mine from '../../src/errors.js';
import { TaskerNotFoundError } from '../../src/client/errors.js';
import { serializeThreadError } from '../../src/worker/thread-entry.js';

// A second, independent copy of the errors module (another file, so another module instance with its own
// classes), as when a handlers module imports a different copy of the package than the worker runs. The names
// contract it takes its shared codes from is copied along, where the copy imports it.
const dir = mkdtempSync(join(tmpdir(), 'tasker-brands-'));
const copyPath = join(dir, 'errors-copy.ts');
copyFileSync(fileURLToPath(new URL('../../src/errors.ts', import.meta.url)), copyPath);
mkdirSync(join(dir, 'contract'));
copyFileSync(
  fileURLToPath(new URL('../../src/contract/names.ts', import.meta.url)),
  join(dir, 'contract', 'names.ts'),
);
const other = (await import(pathToFileURL(copyPath).href)) as typeof mine;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('error brands across copies of the package', () => {
  it('the copy really has its own classes', () => {
    expect(other.PermanentError).not.toBe(mine.PermanentError);
    // The ordinary prototype check fails across copies: that is what the brand is for.
    expect(
      Function.prototype[Symbol.hasInstance].call(mine.PermanentError, new other.PermanentError('x')),
    ).toBe(false);
  });

  it('instanceof and is() recognise the other copy’s handler errors', () => {
    const permanent = new other.PermanentError('card declined', { code: 'DECLINED' });
    const retry = new other.RetryableError('busy', { retryAfterMs: 1234 });
    expect(permanent instanceof mine.PermanentError).toBe(true);
    expect(mine.PermanentError.is(permanent)).toBe(true);
    expect(mine.RetryableError.is(permanent)).toBe(false);
    expect(retry instanceof mine.RetryableError).toBe(true);
    expect(retry instanceof mine.PermanentError).toBe(false);
    expect(mine.handlerErrorKind(permanent)).toEqual({ kind: 'permanent', code: 'DECLINED' });
    expect(mine.handlerErrorKind(retry)).toEqual({ kind: 'retryable', retryAfterMs: 1234 });
  });

  it('typed errors keep their class and base class across copies', () => {
    const conflict = new other.TransitionConflictError('task', 't1', 'pending', 'complete');
    expect(conflict instanceof mine.TransitionConflictError).toBe(true);
    expect(conflict instanceof mine.TaskerError).toBe(true);
    expect(mine.TaskerError.is(conflict)).toBe(true);
    expect(conflict instanceof mine.InvalidTransitionError).toBe(false);
    expect(mine.ConfigError.is(conflict)).toBe(false);
    const config = new other.ConfigError('bad');
    expect(config instanceof mine.ConfigError).toBe(true);
    expect(mine.ConfigError.is(config)).toBe(true);
  });

  it('client errors are branded too', () => {
    const e = new TaskerNotFoundError(404, 'TASK_NOT_FOUND', 'no such task', { method: 'GET', path: '/x' });
    expect(TaskerNotFoundError.is(e)).toBe(true);
    expect(e instanceof mine.TaskerError).toBe(true);
    expect(other.TaskerError.is(e)).toBe(true);
  });

  it('plain errors and look-alikes without the brand are not matched by class', () => {
    const plain = new Error('boom');
    expect(plain instanceof mine.TaskerError).toBe(false);
    expect(mine.PermanentError.is(plain)).toBe(false);
    expect(mine.PermanentError.is({ name: 'PermanentError' })).toBe(false);
    expect(mine.PermanentError.is(null)).toBe(false);
    expect(mine.handlerErrorKind(plain)).toEqual({ kind: 'error' });
    expect(mine.handlerErrorKind('string')).toEqual({ kind: 'error' });
  });

  it('an application subclass keeps ordinary instanceof semantics', () => {
    class MyError extends mine.TaskerError {}
    class OtherError extends mine.TaskerError {}
    const e = new MyError('VALIDATION' as never, 'mine');
    expect(e instanceof MyError).toBe(true);
    expect(e instanceof mine.TaskerError).toBe(true);
    expect(new OtherError('X' as never, 'other') instanceof MyError).toBe(false);
  });

  it('the name/retryable convention still classifies errors that cannot import Tasker', () => {
    const named = Object.assign(new Error('no'), { name: 'PermanentError' });
    expect(mine.handlerErrorKind(named).kind).toBe('permanent');
    expect(mine.handlerErrorKind(Object.assign(new Error('x'), { retryable: false })).kind).toBe('permanent');
    expect(
      mine.handlerErrorKind(Object.assign(new Error('x'), { retryable: true, retryAfterMs: -5 })),
    ).toEqual({ kind: 'retryable' });
  });

  it('thread errors keep the other copy’s meaning when flattened', () => {
    expect(serializeThreadError(new other.PermanentError('no', { code: 'C' }))).toMatchObject({
      kind: 'permanent',
      name: 'PermanentError',
      code: 'C',
    });
    expect(serializeThreadError(new other.RetryableError('later', { retryAfterMs: 50 }))).toMatchObject({
      kind: 'retryable',
      retryAfterMs: 50,
    });
  });
});
