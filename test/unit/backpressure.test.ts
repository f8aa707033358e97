import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { BackpressureEvaluator } from '../../src/api/backpressure.js';
import { BoundedChannel, ChannelMonitor } from '../../src/channels/index.js';
import type { Queryable } from '../../src/db/pool.js';

const settings = {
  enabled: true,
  evaluation_interval_ms: 1000,
  results_queue_critical_depth: 100,
  channel_critical_saturation: 0.95,
  retry_after_seconds: 3,
};
// A channel verdict must not need the database at all.
const noDatabase: Queryable = {
  query: (() =>
    Promise.reject(new Error('the database must not be consulted'))) as unknown as Queryable['query'],
};

describe('BackpressureEvaluator', () => {
  it('is overloaded while a monitored channel is at or above the critical fullness, and recovers', async () => {
    const channel = new BoundedChannel<number>({
      name: 'worker.completion',
      capacity: 20,
      overflowPolicy: 'block',
    });
    const monitor = new ChannelMonitor();
    monitor.register(channel);
    const evaluator = new BackpressureEvaluator({
      settings,
      db: noDatabase,
      channels: monitor,
      logger: pino({ level: 'silent' }),
    });
    for (let i = 0; i < 18; i++) channel.trySend(i);
    // 90% full: below the line, so the evaluator goes on to the (unreachable) database and stays accepting.
    expect((await evaluator.evaluate()).overloaded).toBe(false);
    channel.trySend(18);
    channel.trySend(19);
    const verdict = await evaluator.evaluate();
    expect(verdict).toMatchObject({ overloaded: true, retryAfterSeconds: 3 });
    expect(verdict.reason).toMatch(/worker\.completion is 100% full/);
    channel.drain(20);
    // Empty again: accepting (a database that cannot be read never turns the verdict to overloaded).
    await expect(evaluator.evaluate()).resolves.toMatchObject({ overloaded: false });
  });
});
