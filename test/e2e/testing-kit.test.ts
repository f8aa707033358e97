import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TaskerError } from '../../src/errors.js';
import { ErrorCode, PermanentError, TaskFailedError } from '../../src/errors.js';
import { createTestEngine, runTemplate, type TestEngine } from '../../src/testing/index.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';

const checkout = defineTemplate({ namespace: 'kit', name: 'checkout', version: '1.0.0' })
  .step('charge', { handler: 'kit.charge' })
  .step('ship', { handler: 'kit.ship', dependsOn: ['charge'] })
  .build();
const handlers = [
  defineHandler('kit.charge', (ctx) => {
    if (ctx.context.total === 0) throw new PermanentError('nothing to charge');
    return { charged: ctx.context.total };
  }),
  defineHandler('kit.ship', (ctx) => ({ shipped: true, after: ctx.dependencyResults.charge })),
];

async function databaseExists(url: string): Promise<boolean> {
  const name = new URL(url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: inject('adminUrl') });
  await admin.connect();
  try {
    const res = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return res.rowCount === 1;
  } finally {
    await admin.end();
  }
}

describe('tasker/testing', () => {
  it('runTemplate runs a template with its handlers in one call', async () => {
    const results = await runTemplate(checkout, handlers, {
      context: { total: 12 },
      databaseUrl: inject('adminUrl'),
    });
    expect(results).toEqual({ charge: { charged: 12 }, ship: { shipped: true, after: { charged: 12 } } });
  });

  describe('createTestEngine', () => {
    let engine: TestEngine;
    beforeAll(async () => {
      engine = await createTestEngine({ templates: [checkout], handlers, databaseUrl: inject('adminUrl') });
    });
    afterAll(async () => {
      const url = engine?.databaseUrl;
      await engine?.close();
      // close() removed the engine's database.
      if (url) expect(await databaseExists(url)).toBe(false);
    });

    it('runs many tasks on one database, by template or by name', async () => {
      expect(await databaseExists(engine.databaseUrl)).toBe(true);
      expect((await engine.run(checkout, { total: 1 })).charge).toEqual({ charged: 1 });
      expect((await engine.run('kit/checkout', { total: 2 })).charge).toEqual({ charged: 2 });
    });

    it('rejects with TaskFailedError when a step fails', async () => {
      const err = await engine.run(checkout, { total: 0 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TaskFailedError);
      expect((err as TaskFailedError).failedSteps.map((s) => s.name)).toEqual(['charge']);
    });

    it('names a template it does not run', async () => {
      const err = await engine.run('kit/unknown').catch((e: unknown) => e);
      expect((err as TaskerError).code).toBe(ErrorCode.TemplateNotFound);
      expect((err as Error).message).toMatch(/kit\/unknown.*createTestEngine/);
    });
  });
});
