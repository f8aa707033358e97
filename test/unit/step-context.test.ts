import { describe, expect, it } from 'vitest';
import { PermanentError } from '../../src/errors.js';
import { stepContext } from '../../src/testing/index.js';
import { defineHandler } from '../../src/worker/handler.js';

/** A handler as a user writes one: reads its task context, an ancestor's result, its inputs and the attempt. */
const charge = defineHandler('shop.charge', (ctx) => {
  const order = ctx.dependencyResults.validate as { total: number };
  if (order.total <= 0) throw new PermanentError('nothing to charge');
  return {
    charged: order.total,
    currency: ctx.inputs.currency,
    order: ctx.context.order_id,
    attempt: ctx.attempt,
  };
});

const resumable = defineHandler('rows.copy', async (ctx) => {
  const range = ctx.batch!;
  for (let cursor = range.resumeFrom; cursor < range.end; cursor += 10) {
    if (ctx.signal.aborted) throw new Error('stopped');
    await ctx.checkpoint({ cursor: Math.min(cursor + 10, range.end) });
  }
  return { copied: range.end - range.resumeFrom };
});

describe('stepContext: unit-testing a handler without a database', () => {
  it('gives the handler what a worker would', async () => {
    const ctx = stepContext({
      context: { order_id: 'A-1' },
      inputs: { currency: 'EUR' },
      dependencyResults: { validate: { total: 42 } },
      attempt: 2,
    });
    expect(await charge.fn(ctx)).toEqual({ charged: 42, currency: 'EUR', order: 'A-1', attempt: 2 });
    expect(ctx.taskUuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(ctx.stepName).toBe('step');
    expect(ctx.signal.aborted).toBe(false);
  });

  it('lets the test see a permanent failure', async () => {
    const ctx = stepContext({ dependencyResults: { validate: { total: 0 } } });
    await expect(Promise.resolve().then(() => charge.fn(ctx))).rejects.toBeInstanceOf(PermanentError);
  });

  it('records checkpoints, resumes from a batch cursor, and refuses a malformed checkpoint', async () => {
    const ctx = stepContext({
      batch: {
        index: 0,
        count: 1,
        start: 0,
        end: 30,
        totalItems: 30,
        failureStrategy: 'fail_fast',
        resumeFrom: 10,
      },
    });
    expect(await resumable.fn(ctx)).toEqual({ copied: 20 });
    expect(ctx.checkpoints).toEqual([{ cursor: 20 }, { cursor: 30 }]);
    await expect(ctx.checkpoint({ cursor: 1.5 })).rejects.toThrow(/cursor/);
  });

  it('passes a given signal through, so cancellation paths can be tested', async () => {
    const controller = new AbortController();
    controller.abort();
    const ctx = stepContext({
      signal: controller.signal,
      batch: {
        index: 0,
        count: 1,
        start: 0,
        end: 30,
        totalItems: 30,
        failureStrategy: 'continue',
        resumeFrom: 0,
      },
    });
    await expect(resumable.fn(ctx)).rejects.toThrow('stopped');
    expect(ctx.checkpoints).toEqual([]);
  });
});
