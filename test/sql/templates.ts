/** Templates the SQL-level tests of single engine functions build tasks from. */
import { defineTemplate } from '../../src/templates/index.js';

/** The namespace of these templates (its worker queue is `workerQueueName(partsNamespace)`). */
export const partsNamespace = 'sql_parts';
const ns = partsNamespace;

/** route (decision) -> a | b; join (deferred convergence) waits for a and b; c after a. */
export const decision = defineTemplate({ namespace: ns, name: 'decision', version: '1.0.0' })
  .step('route', { handler: 'h', type: 'decision' })
  .step('a', { handler: 'h', dependsOn: ['route'] })
  .step('b', { handler: 'h', dependsOn: ['route'] })
  .step('c', { handler: 'h', dependsOn: ['a'] })
  .step('join', { handler: 'h', type: 'deferred_convergence', dependsOn: ['a', 'b'] })
  .build();

/** analyze (batchable) -> process (batch_worker blueprint, batches of 10, at most 3) -> aggregate. */
export const batch = defineTemplate({ namespace: ns, name: 'batch', version: '1.0.0' })
  .step('analyze', { handler: 'h', type: 'batchable' })
  .step('process', {
    handler: 'h',
    type: 'batch_worker',
    dependsOn: ['analyze'],
    batch: { batchSize: 10, maxBatches: 3 },
  })
  .step('aggregate', { handler: 'h', type: 'deferred_convergence', dependsOn: ['process'] })
  .build();

/** first -> second, with three attempts. */
export const chain = defineTemplate({ namespace: ns, name: 'chain', version: '1.0.0' })
  .step('first', { handler: 'h', retry: { maxAttempts: 3 } })
  .step('second', { handler: 'h', dependsOn: ['first'] })
  .build();

/** split (batchable) -> work (batch_worker, one item per batch, fail_fast) -> merge. */
export const fanOut = defineTemplate({ namespace: ns, name: 'fan_out', version: '1.0.0' })
  .step('split', { handler: 'h', type: 'batchable' })
  .step('work', {
    handler: 'h',
    type: 'batch_worker',
    dependsOn: ['split'],
    batch: { batchSize: 1, maxBatches: 10 },
  })
  .step('merge', { handler: 'h', type: 'deferred_convergence', dependsOn: ['work'] })
  .build();

/** The same fan-out with failure strategy continue: a failed batch leaves the others alone. */
export const fanOutContinue = defineTemplate({ namespace: ns, name: 'fan_out_continue', version: '1.0.0' })
  .step('split', { handler: 'h', type: 'batchable' })
  .step('work', {
    handler: 'h',
    type: 'batch_worker',
    dependsOn: ['split'],
    batch: { batchSize: 1, maxBatches: 10, failureStrategy: 'continue' },
  })
  .step('merge', { handler: 'h', type: 'deferred_convergence', dependsOn: ['work'] })
  .build();

/** left and right (two roots, left with a timeout and inputs) -> both. */
export const twoRoots = defineTemplate({ namespace: ns, name: 'two_roots', version: '1.0.0' })
  .step('left', { handler: 'h.left', timeoutMs: 5000, inputs: { side: 'l' }, retry: { maxAttempts: 4 } })
  .step('right', { handler: 'h.right' })
  .step('both', { handler: 'h', dependsOn: ['left', 'right'] })
  .build();

/** a -> b -> c: a claimed root and the chain below it. */
export const chain3 = defineTemplate({ namespace: ns, name: 'chain3', version: '1.0.0' })
  .step('a', { handler: 'h' })
  .step('b', { handler: 'h', dependsOn: ['a'] })
  .step('c', { handler: 'h', dependsOn: ['b'] })
  .build();

/** top -> left, right -> bottom. */
export const diamond4 = defineTemplate({ namespace: ns, name: 'diamond4', version: '1.0.0' })
  .step('top', { handler: 'h' })
  .step('left', { handler: 'h', dependsOn: ['top'] })
  .step('right', { handler: 'h', dependsOn: ['top'] })
  .step('bottom', { handler: 'h', dependsOn: ['left', 'right'] })
  .build();
