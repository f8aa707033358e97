import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { childLogger, createLogger, stepLogger } from '../../src/observability/logger.js';
import { parseLogLines } from '../support/log-lines.js';

/** A destination that records what is written, posing as a terminal or not. */
function capture(isTTY: boolean): Writable & { isTTY: boolean; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as Writable & { isTTY: boolean; text: () => string };
  stream.isTTY = isTTY;
  stream.text = () => chunks.join('');
  return stream;
}

const ANSI = /\u001b\[/;

describe('createLogger', () => {
  it('auto: one readable, coloured line per event on a terminal', () => {
    const out = capture(true);
    const logger = createLogger({ format: 'auto', destination: out, env: {}, name: 'tasker-worker' });
    logger.info({ taskUuid: 't-1', nested: { a: 1 } }, 'step finished');
    const text = out.text();
    expect(text.trimEnd().split('\n')).toHaveLength(1);
    expect(text).toContain('step finished');
    expect(text).toContain('t-1');
    expect(text).toMatch(ANSI);
    expect(() => JSON.parse(text) as unknown).toThrow();
  });

  it('auto: no colour when NO_COLOR is set', () => {
    const out = capture(true);
    createLogger({ format: 'auto', destination: out, env: { NO_COLOR: '1' } }).warn('careful');
    expect(out.text()).toContain('careful');
    expect(out.text()).not.toMatch(ANSI);
  });

  it('auto: JSON lines when the output is not a terminal; json: JSON even on one', () => {
    for (const [format, tty] of [
      ['auto', false],
      ['json', true],
    ] as const) {
      const out = capture(tty);
      createLogger({ format, destination: out, env: {}, name: 'n' }).info({ k: 1 }, 'm');
      expect(parseLogLines([out.text()])).toMatchObject([{ name: 'n', k: 1, msg: 'm' }]);
    }
  });
});

describe('childLogger', () => {
  function rootCapture(): { logger: pino.Logger; lines: string[] } {
    const lines: string[] = [];
    return { logger: pino({ level: 'debug' }, { write: (l: string) => void lines.push(l) }), lines };
  }

  it('rebinds a key its parent already has instead of writing it twice', () => {
    const { logger, lines } = rootCapture();
    const worker = childLogger(logger, { component: 'worker', worker: 'w1' });
    const events = childLogger(worker, { component: 'domain-events' });
    events.info('x');
    worker.info('y');
    const [x, y] = parseLogLines(lines);
    expect(x).toMatchObject({ component: 'domain-events', worker: 'w1' });
    expect(y).toMatchObject({ component: 'worker', worker: 'w1' });
  });

  it("keeps the caller's own bindings and level", () => {
    const { logger, lines } = rootCapture();
    const app = logger.child({ component: 'my-app', region: 'eu' });
    app.level = 'warn';
    const engine = childLogger(app, { component: 'orchestrator', extra: 1 });
    engine.info('hidden');
    engine.warn('shown');
    expect(parseLogLines(lines)).toMatchObject([
      { component: 'my-app', region: 'eu', extra: 1, msg: 'shown' },
    ]);
  });

  it('stepLogger binds task, step and attempt', () => {
    const { logger, lines } = rootCapture();
    const step = { taskUuid: 't', stepUuid: 's', stepName: 'charge', attempt: 2 };
    stepLogger(childLogger(logger, { component: 'worker' }), step).info('hi');
    expect(parseLogLines(lines)).toMatchObject([{ component: 'worker', ...step }]);
  });
});
