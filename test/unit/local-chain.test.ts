/**
 * Which dependents a worker starts right after a success (ADR 0011): only standard steps of templates with
 * nothing but standard steps, whose handler is registered here and whose parents all succeeded here, each once,
 * within the capacity given, with the context a claim would bring.
 */
import { describe, expect, it } from 'vitest';
import { stepUuidFor } from '../../src/contract/step-uuid.js';
import { defineTemplate } from '../../src/templates/index.js';
import { StepType, type TaskTemplate } from '../../src/templates/types.js';
import type { ClaimedStep, StepResultRecord } from '../../src/worker/claimed-step.js';
import { defineHandler, HandlerRegistry } from '../../src/worker/handler.js';
import { LocalChains } from '../../src/worker/local-chain.js';

const diamond = defineTemplate({ namespace: 'lc', name: 'diamond', version: '1.0.0' })
  .step('top', { handler: 'h' })
  .step('left', { handler: 'h', dependsOn: ['top'], inputs: { side: 'l' } })
  .step('right', { handler: 'other', dependsOn: ['top'] })
  .step('bottom', { handler: 'h', dependsOn: ['left', 'right'], retry: { maxAttempts: 5 } })
  .build();
// as if `left` decided (not validated here: LocalChains only reads step types)
const decides: TaskTemplate = {
  ...diamond,
  name: 'decides',
  steps: diamond.steps.map((s) => (s.name === 'left' ? { ...s, type: StepType.Decision } : s)),
};
const TASK = '019ad7a0-0000-7000-8000-000000000001';

function claimed(template: TaskTemplate, name: string, dependencyResults = {}): ClaimedStep {
  return {
    msgId: '7',
    queue: 'worker_lc_queue',
    stepUuid: stepUuidFor(TASK, name),
    taskUuid: TASK,
    stepName: name,
    handler: 'h',
    attempt: 1,
    maxAttempts: 3,
    retryable: true,
    retryPolicy: template.steps[0]!.retry,
    timeoutMs: null,
    inputs: {},
    context: { order: 1 },
    namespace: template.namespace,
    templateName: template.name,
    templateVersion: template.version,
    correlationId: '019ad7a0-0000-7000-8000-0000000000cc',
    dependencyResults,
    checkpoint: null,
  };
}

function success(result: unknown): StepResultRecord {
  return {
    success: true,
    result,
    metadata: { attempt: 1, worker_id: 'w', started_at: new Date(0).toISOString(), execution_time_ms: 0 },
  };
}

const both = new HandlerRegistry([defineHandler('h', () => 1), defineHandler('other', () => 2)]);

describe('LocalChains', () => {
  it('starts each dependent whose parents all succeeded here, once, with what a claim would bring', () => {
    const chains = new LocalChains([diamond], both);
    const next = chains.next(claimed(diamond, 'top'), success({ n: 1 }), 10);
    expect(next.map((s) => s.stepName)).toEqual(['left', 'right']);
    const left = next[0]!;
    expect(left).toMatchObject({
      chained: true,
      msgId: '',
      attempt: 1,
      stepUuid: stepUuidFor(TASK, 'left'),
      inputs: { side: 'l' },
      context: { order: 1 },
      dependencyResults: { top: { n: 1 } },
    });
    // the join waits for both parents; a result of undefined reaches it as null, as stored
    expect(chains.next(left, success(undefined), 10)).toEqual([]);
    const bottom = chains.next(next[1]!, success('r'), 10);
    expect(bottom.map((s) => s.stepName)).toEqual(['bottom']);
    expect(bottom[0]!.dependencyResults).toEqual({ top: { n: 1 }, left: null, right: 'r' });
    expect(bottom[0]!.maxAttempts).toBe(5);
    // never twice
    expect(chains.next(next[1]!, success('r'), 10)).toEqual([]);
  });

  it('starts nothing past the capacity, for a failure, a handler not registered here, or a decision template', () => {
    expect(new LocalChains([diamond], both).next(claimed(diamond, 'top'), success(1), 1)).toHaveLength(1);
    const failure = { ...success(1), success: false };
    expect(new LocalChains([diamond], both).next(claimed(diamond, 'top'), failure, 10)).toEqual([]);
    const onlyH = new LocalChains([diamond], new HandlerRegistry([defineHandler('h', () => 1)]));
    expect(onlyH.next(claimed(diamond, 'top'), success(1), 10).map((s) => s.stepName)).toEqual(['left']);
    // a parent whose uuid was not derived from its task's (a task created before derived uuids)
    const oldTask = { ...claimed(diamond, 'top'), stepUuid: '019ad7a0-0000-7000-8000-0000000000ff' };
    expect(new LocalChains([diamond], both).next(oldTask, success(1), 10)).toEqual([]);
    const withDecision = new LocalChains([decides], both);
    expect(withDecision.enabled).toBe(false);
    expect(withDecision.next(claimed(decides, 'top'), success(1), 10)).toEqual([]);
  });

  it('forgets a task when told, so nothing of it chains any more', () => {
    const chains = new LocalChains([diamond], both);
    const [left, right] = chains.next(claimed(diamond, 'top'), success(1), 10);
    chains.next(left!, success(1), 10);
    chains.forget(TASK);
    expect(chains.rememberedTasks).toBe(0);
    expect(chains.next(right!, success(1), 10)).toEqual([]);
  });
});
