/** Templates the SQL-level tests of resolve_steps' parts build tasks from. */
import { defineTemplate } from '../../src/templates/index.js';

const ns = 'sql_parts';

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
