import { afterEach, describe, expect, it } from 'vitest';
import { HandlerBackpressureError, PermanentError, RetryableError } from '../../src/errors.js';
import { silentLogger } from '../../src/observability/logger.js';
import {
  HandlerRegistry,
  defineHandler,
  defineThreadHandler,
  handlersFromModule,
  type ThreadStepContext,
} from '../../src/worker/handler.js';
import { serializeThreadError } from '../../src/worker/thread-entry.js';
import { HandlerThreadPool, errorFromThread } from '../../src/worker/thread-pool.js';
import { openGate, until } from '../fixtures/thread-gate.js';

const fixture = new URL('../fixtures/thread-handlers.ts', import.meta.url);

function ctx(context: Record<string, unknown> = {}, inputs: Record<string, unknown> = {}): ThreadStepContext {
  return {
    taskUuid: 't',
    stepUuid: 's',
    stepName: 'step',
    namespace: 'ns',
    templateName: 'tpl',
    templateVersion: '1.0.0',
    correlationId: 'c',
    context,
    inputs,
    dependencyResults: {},
    attempt: 1,
    maxAttempts: 3,
    workerId: 'w',
  };
}

describe('thread handler definitions', () => {
  it('name a module URL and an export, and refuse what cannot be loaded in a thread', () => {
    const h = defineThreadHandler('reports.crunch', fixture, 'crunch');
    expect(h.thread).toEqual({ module: fixture.href, exportName: 'crunch' });
    expect(defineThreadHandler('x', fixture.pathname).thread?.module).toBe(fixture.href);
    expect(defineThreadHandler('x', fixture.href).thread?.exportName).toBe('default');
    expect(() => h.fn({} as never)).toThrow(/runs only in a worker's thread pool/);
    expect(() => defineThreadHandler('x', './relative.ts')).toThrow(/file URL or an absolute path/);
    expect(() => defineThreadHandler('x', new URL('https://example.com/a.js'))).toThrow(/file: URL/);
    expect(() => defineThreadHandler('x', fixture, 'not-an-export')).toThrow(/not a valid export name/);
    expect(() => defineThreadHandler('bad name', fixture)).toThrow(/invalid handler name/);
  });

  it('register like other handlers: the same target twice is fine, a different one under the name is not', () => {
    const registry = new HandlerRegistry([defineHandler('plain', () => 1)]);
    expect(registry.hasThreadHandlers).toBe(false);
    registry.register(defineThreadHandler('t', fixture, 'crunch'));
    registry.register(defineThreadHandler('t', fixture, 'crunch'));
    expect(registry.hasThreadHandlers).toBe(true);
    expect(() => registry.register(defineThreadHandler('t', fixture, 'report'))).toThrow(/registered twice/);
    expect(() => registry.register(defineHandler('t', () => 1))).toThrow(/registered twice/);
    expect(handlersFromModule({ a: defineThreadHandler('t', fixture, 'crunch') })).toHaveLength(1);
  });
});

describe('errors crossing the thread boundary', () => {
  const roundTrip = (thrown: unknown): Error =>
    errorFromThread(structuredClone(serializeThreadError(thrown)));

  it('keep the permanent/retryable classification, name, code, retry delay and stack', () => {
    const permanent = roundTrip(new PermanentError('bad', { code: 'BAD' }));
    expect(permanent).toBeInstanceOf(PermanentError);
    expect(permanent).toMatchObject({ name: 'PermanentError', message: 'bad', code: 'BAD' });

    const retry = roundTrip(new RetryableError('later', { code: 'BUSY', retryAfterMs: 250 }));
    expect(retry).toBeInstanceOf(RetryableError);
    expect(retry).toMatchObject({ name: 'RetryableError', code: 'BUSY', retryAfterMs: 250 });

    const custom = Object.assign(new Error('no'), { retryable: false, code: 'RULE' });
    custom.name = 'ValidationFailure';
    const mapped = roundTrip(custom);
    expect(mapped).toBeInstanceOf(PermanentError);
    expect(mapped).toMatchObject({ name: 'ValidationFailure', code: 'RULE' });
    expect(mapped.stack).toBe(custom.stack);

    const flagged = roundTrip(Object.assign(new Error('x'), { retryable: true, retryAfterMs: -5 }));
    expect(flagged).toBeInstanceOf(RetryableError);
    expect((flagged as RetryableError).retryAfterMs).toBeUndefined();

    const plain = roundTrip(new TypeError('oops'));
    expect(plain).not.toBeInstanceOf(PermanentError);
    expect(plain).not.toBeInstanceOf(RetryableError);
    expect(plain).toMatchObject({ name: 'TypeError', message: 'oops' });

    expect(roundTrip('just a string')).toMatchObject({ name: 'Error', message: 'just a string' });
  });
});

describe('HandlerThreadPool', () => {
  let pool: HandlerThreadPool | undefined;
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });

  it('runs a module export in a thread and starts its threads only on first use', async () => {
    pool = new HandlerThreadPool(
      { min_threads: 1, max_threads: 1, max_queue: 0, idle_timeout_ms: 1000, backpressure_retry_ms: 10 },
      silentLogger(),
    );
    expect(pool.stats).toMatchObject({ started: false, threads: 0 });
    const target = { module: fixture.href, exportName: 'crunch' };
    await expect(
      pool.run('c', target, ctx({}, { limit: 100 }), new AbortController().signal),
    ).resolves.toEqual({
      primes: 25,
    });
    await expect(
      pool.run('d', { module: fixture.href, exportName: 'default' }, ctx(), new AbortController().signal),
    ).resolves.toEqual({ from: 'default' });
    expect(pool.stats).toMatchObject({ started: true, submitted: 2, completed: 2, pending: 0 });
    expect(pool.stats.threads).toBe(1);
  });

  it('refuses a submission beyond max_threads + max_queue with a typed HANDLER_BACKPRESSURE error', async () => {
    pool = new HandlerThreadPool(
      { min_threads: 0, max_threads: 1, max_queue: 1, idle_timeout_ms: 1000, backpressure_retry_ms: 10 },
      silentLogger(),
    );
    const { channel, release, close } = openGate('backpressure');
    try {
      const target = { module: fixture.href, exportName: 'crunch' };
      const first = pool.run('c', target, ctx({ channel }), new AbortController().signal);
      const second = pool.run('c', target, ctx({ channel }), new AbortController().signal);
      let refused: unknown;
      try {
        void pool.run('c', target, ctx({ channel }), new AbortController().signal);
      } catch (e) {
        refused = e;
      }
      expect(refused).toBeInstanceOf(HandlerBackpressureError);
      expect(refused).toMatchObject({ code: 'HANDLER_BACKPRESSURE' });
      expect(pool.stats).toMatchObject({ pending: 2, backpressureRejections: 1, submitted: 2 });
      release();
      await expect(first).resolves.toMatchObject({ released: true });
      await expect(second).resolves.toMatchObject({ released: true });
      expect(pool.stats.pending).toBe(0);
    } finally {
      close();
    }
  });

  it('an abort terminates the thread running the task; a closed pool refuses work', async () => {
    pool = new HandlerThreadPool(
      { min_threads: 0, max_threads: 1, max_queue: 0, idle_timeout_ms: 1000, backpressure_retry_ms: 10 },
      silentLogger(),
    );
    const gate = openGate('abort');
    const { channel } = gate;
    try {
      const abort = new AbortController();
      const target = { module: fixture.href, exportName: 'crunch' };
      const spinning = pool.run('s', target, ctx({ channel }), abort.signal);
      await until(() => gate.spinning() === 1, 'the spin'); // the only thread is busy, and never released
      abort.abort(new Error('enough'));
      await expect(spinning).rejects.toMatchObject({ name: 'AbortError' });
      // Runs only if the abort terminated the busy thread (a fresh one replaces it).
      await expect(pool.run('c', target, ctx(), new AbortController().signal)).resolves.toEqual({
        primes: 168,
      });
      await pool.close();
      expect(pool.stats).toMatchObject({ closed: true, threads: 0 });
      expect(() => pool!.run('c', target, ctx(), new AbortController().signal)).toThrow(/closed/);
    } finally {
      gate.close();
    }
  });
});
