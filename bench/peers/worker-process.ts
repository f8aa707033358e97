/**
 * One worker process of `npm run bench -- --only processes`: a Tasker worker (default configuration) for the
 * peers namespace, on the database given as the first argument. Prints `ready` once started; stops on SIGTERM.
 */
import { loadConfig } from '../../src/config/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createWorker } from '../../src/worker/worker.js';
import { LINEAR4 } from './shapes.js';
import { templateOf } from './tasker.js';

const url = process.argv[2];
if (!url) throw new Error('usage: worker-process.ts <database url>');
const config = loadConfig({
  environment: 'production',
  env: { DATABASE_URL: url },
  overrides: { common: { logging: { level: 'silent' } } },
});
const worker = createWorker({
  config,
  templates: [templateOf(LINEAR4)],
  handlers: [defineHandler('noop', () => ({ ok: true }))],
});
await worker.start();
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void worker.stop().then(() => process.exit(0));
});
