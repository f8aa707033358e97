/**
 * A worker in its own process, for crash tests. Its 'blocker' handler announces the step on stdout and then
 * never finishes, so the parent can SIGKILL the process mid-step.
 */
import { testConfig } from './engine.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createWorker } from '../../src/worker/worker.js';

const url = process.env.TEST_DATABASE_URL!;
const overrides = JSON.parse(process.env.TEST_OVERRIDES ?? '{}') as Parameters<typeof testConfig>[1];
const namespace = process.env.TEST_NAMESPACE!;

const worker = createWorker({
  config: testConfig(url, overrides),
  namespaces: [namespace],
  handlers: [
    defineHandler('blocker', (ctx) => {
      process.stdout.write(`STARTED ${ctx.stepUuid} ${ctx.attempt}\n`);
      return new Promise(() => {});
    }),
  ],
});
await worker.start();
process.stdout.write('READY\n');
