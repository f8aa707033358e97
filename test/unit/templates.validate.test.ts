import { describe, expect, it } from 'vitest';
import { TemplateValidationError } from '../../src/errors.js';
import {
  assertValidTemplate,
  canonicalTemplateJson,
  templateFingerprint,
  topologicalOrder,
  validateTemplate,
  decisionDepths,
  type StepDefinition,
  type TaskTemplate,
} from '../../src/templates/index.js';

const RETRY = {
  retryable: true,
  maxAttempts: 3,
  backoffBaseMs: 1000,
  backoffMultiplier: 2,
  maxBackoffMs: 60000,
  jitter: 0.15,
};

function step(name: string, dependsOn: string[] = [], extra: Partial<StepDefinition> = {}): StepDefinition {
  return {
    name,
    handler: `h.${name}`,
    type: 'standard',
    dependsOn,
    retry: { ...RETRY },
    inputs: {},
    ...extra,
  };
}

function template(steps: StepDefinition[], extra: Partial<TaskTemplate> = {}): TaskTemplate {
  return { namespace: 'ns', name: 'flow', version: '1.0.0', steps, ...extra };
}

const paths = (t: TaskTemplate, opts?: Parameters<typeof validateTemplate>[1]): string[] =>
  validateTemplate(t, opts).map((i) => i.path);

describe('validateTemplate', () => {
  it('accepts a valid template', () => {
    expect(validateTemplate(template([step('a'), step('b', ['a'])]))).toEqual([]);
  });

  it('checks the header fields', () => {
    expect(paths(template([step('a')], { namespace: 'has-dash' }))).toEqual(['namespace']);
    expect(paths(template([step('a')], { namespace: '' }))).toEqual(['namespace']);
    expect(paths(template([step('a')], { namespace: 'x'.repeat(30) }))).toEqual(['namespace']);
    expect(paths(template([step('a')], { namespace: '_ok_29_' + 'x'.repeat(22) }))).toEqual([]);
    expect(paths(template([step('a')], { name: '1abc' }))).toEqual(['name']);
    expect(paths(template([step('a')], { version: '1.0' }))).toEqual(['version']);
    expect(paths(template([step('a')], { version: `1.0.0-${'a'.repeat(50)}` }))).toEqual(['version']);
  });

  it('needs at least one step', () => {
    expect(validateTemplate(template([]))).toEqual([
      { path: 'steps', message: 'a template needs at least one step' },
    ]);
  });

  it('reports unknown dependencies naming the step and the dependency, with the normalized path', () => {
    const issues = validateTemplate(template([step('a'), step('b', ['a', 'zz'])]), { source: 'dsl' });
    expect(issues).toEqual([
      { path: 'steps[1].dependsOn[1]', message: "step 'b' depends on unknown step 'zz'", source: 'dsl' },
    ]);
  });

  it('reports self and repeated dependencies', () => {
    const issues = validateTemplate(template([step('a'), step('b', ['b', 'a', 'a'])]));
    expect(issues.map((i) => [i.path, i.message])).toEqual([
      ['steps[1].dependsOn[0]', "step 'b' depends on itself"],
      ['steps[1].dependsOn[2]', "step 'b' lists dependency 'a' more than once"],
    ]);
  });

  it('reports each cycle once with its path, starting at the first declared step', () => {
    const t = template([
      step('a', ['b']),
      step('b', ['c']),
      step('c', ['a']),
      step('d'),
      step('e', ['f', 'd']),
      step('f', ['e']),
    ]);
    const issues = validateTemplate(t);
    expect(issues).toEqual([
      {
        path: 'steps[0].dependsOn[0]',
        message: 'dependency cycle: a -> b -> c -> a (each step depends on the next)',
      },
      {
        path: 'steps[4].dependsOn[0]',
        message: 'dependency cycle: e -> f -> e (each step depends on the next)',
      },
    ]);
  });

  it('finds a cycle that the search enters from its middle', () => {
    const t = template([step('x', ['c']), step('a', ['c']), step('b', ['a']), step('c', ['b'])]);
    const msgs = validateTemplate(t).map((i) => i.message);
    expect(msgs).toEqual(['dependency cycle: a -> c -> b -> a (each step depends on the next)']);
  });

  it('handles a long chain without overflowing the stack', () => {
    const steps = Array.from({ length: 20000 }, (_, i) => step(`s${i}`, i === 0 ? [] : [`s${i - 1}`]));
    expect(validateTemplate(template(steps))).toEqual([]);
    steps[0] = step('s0', ['s19999']);
    const issues = validateTemplate(template(steps));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toMatch(/^dependency cycle: s0 -> s19999 -> s19998 -> /);
  });

  it('checks handler names against a registry when given', () => {
    const t = template([step('a'), step('b')]);
    const issues = validateTemplate(t, { handlerNames: new Set(['h.a']) });
    expect(issues).toEqual([
      { path: 'steps[1].handler', message: "no handler is registered under 'h.b' (used by step 'b')" },
    ]);
    expect(validateTemplate(t, { handlerNames: new Set(['h.a', 'h.b']) })).toEqual([]);
    expect(paths(template([step('a', [], { handler: '  ' })]))).toEqual(['steps[0].handler']);
  });

  it('checks retry ranges and the timeout', () => {
    const t = template([
      step('a', [], { retry: { ...RETRY, maxAttempts: 101 } }),
      step('b', [], { retry: { ...RETRY, maxAttempts: 1, jitter: -0.1, backoffMultiplier: Number.NaN } }),
      step('c', [], { timeoutMs: 1.5 }),
      step('d', [], {
        retry: { ...RETRY, maxAttempts: 100, jitter: 1, backoffMultiplier: 1, backoffBaseMs: 0 },
        timeoutMs: 1,
      }),
    ]);
    expect(paths(t)).toEqual([
      'steps[0].retry.maxAttempts',
      'steps[1].retry.backoffMultiplier',
      'steps[1].retry.jitter',
      'steps[2].timeoutMs',
    ]);
  });

  it('rejects inputs that JSON cannot carry', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const t = template([
      step('a', [], { inputs: { fn: () => 1 } }),
      step('b', [], { inputs: { when: new Date(0) } }),
      step('c', [], { inputs: { list: [1, undefined] } }),
      step('d', [], { inputs: circular }),
      step('e', [], { inputs: { fine: { n: 1, s: 'x', b: false, z: null, l: [{}], skipped: undefined } } }),
    ]);
    expect(paths(t)).toEqual([
      'steps[0].inputs.fn',
      'steps[1].inputs.when',
      'steps[2].inputs.list[1]',
      'steps[3].inputs.self',
    ]);
  });

  it('reports unknown step types and batch settings on the wrong step', () => {
    const t = template([step('a', [], { type: 'fancy' as 'standard' })]);
    expect(validateTemplate(t)[0]!.message).toMatch(/unknown step type 'fancy'/);
    const b = template([
      step('a', [], { batch: { failureStrategy: 'fail_fast', batchSize: 1, maxBatches: 1 } }),
    ]);
    expect(validateTemplate(b)[0]!.message).toMatch(/only batch_worker steps take batch settings/);
  });

  it('limits decision nesting when asked, and measures it', () => {
    const t = template([
      step('d1', [], { type: 'decision' }),
      step('d2', ['d1'], { type: 'decision' }),
      step('d3', ['d2'], { type: 'decision' }),
      step('leaf', ['d3']),
    ]);
    expect(decisionDepths(t)).toEqual([1, 2, 3, 3]);
    expect(validateTemplate(t, { maxDecisionDepth: 3 })).toEqual([]);
    const over = validateTemplate(t, { maxDecisionDepth: 2 });
    expect(over.map((i) => [i.path, i.message])).toEqual([
      [
        'steps[2].type',
        "decision step 'd3' is nested 3 decisions deep; the limit is 2 (orchestration.decision_points.max_depth)",
      ],
    ]);
  });

  it('assertValidTemplate throws one error with every issue', () => {
    const t = template([step('a', ['a']), step('a'), step('bad name')], { version: 'x' });
    try {
      assertValidTemplate(t, { source: 'here' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TemplateValidationError);
      const err = e as TemplateValidationError;
      expect(err.issues.map((i) => i.path)).toEqual([
        'version',
        'steps[1].name',
        'steps[2].name',
        'steps[0].dependsOn[0]',
      ]);
      expect(err.issues.every((i) => i.source === 'here')).toBe(true);
      expect(err.message).toMatch(/4 issues/);
    }
    expect(() => assertValidTemplate(template([step('a')]))).not.toThrow();
  });
});

describe('topologicalOrder', () => {
  it('puts every step after its dependencies, keeping declaration order among free steps', () => {
    const t = template([step('d', ['b', 'c']), step('c', ['a']), step('b', ['a']), step('a'), step('e')]);
    expect(topologicalOrder(t)).toEqual(['a', 'c', 'b', 'd', 'e']);
  });

  it('throws on a cycle or an unknown dependency', () => {
    expect(() => topologicalOrder(template([step('a', ['b']), step('b', ['a'])]))).toThrow(/a -> b -> a/);
    expect(() => topologicalOrder(template([step('a', ['nope'])]))).toThrow(TemplateValidationError);
  });

  it('does not object to problems unrelated to ordering', () => {
    expect(topologicalOrder(template([step('a')], { version: 'not-semver' }))).toEqual(['a']);
  });
});

describe('canonicalTemplateJson', () => {
  const base = template([
    step('a', [], { inputs: { z: 1, a: { y: 2, b: 3 } }, description: 'first' }),
    step('b', ['a']),
    step('c', ['b', 'a']),
  ]);

  it('is the same whatever the key order, step order or dependency order', () => {
    // Same content, built in a different order: keys, steps and dependency lists all shuffled.
    const reordered: TaskTemplate = {
      steps: [
        step('c', ['a', 'b']),
        step('b', ['a']),
        {
          retry: {
            jitter: 0.15,
            maxBackoffMs: 60000,
            backoffMultiplier: 2,
            backoffBaseMs: 1000,
            maxAttempts: 3,
            retryable: true,
          },
          inputs: { a: { b: 3, y: 2 }, z: 1 },
          type: 'standard',
          handler: 'h.a',
          dependsOn: [],
          description: 'first',
          name: 'a',
        },
      ],
      version: '1.0.0',
      name: 'flow',
      namespace: 'ns',
    };
    expect(canonicalTemplateJson(reordered)).toBe(canonicalTemplateJson(base));
    expect(templateFingerprint(reordered)).toBe(templateFingerprint(base));
    expect(templateFingerprint(base)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('sorts keys at every depth', () => {
    const json = canonicalTemplateJson(base);
    expect(json.indexOf('"name":"flow"')).toBeGreaterThan(json.indexOf('"description"') === -1 ? -1 : 0);
    expect(json).toContain('"inputs":{"a":{"b":3,"y":2},"z":1}');
    expect(JSON.parse(json)).toMatchObject({ namespace: 'ns', name: 'flow', version: '1.0.0' });
  });

  it('changes with any change of content', () => {
    const variants: ((t: TaskTemplate) => void)[] = [
      (t) => (t.description = 'new'),
      (t) => (t.steps[0]!.handler = 'other'),
      (t) => (t.steps[0]!.retry.maxAttempts = 4),
      (t) => (t.steps[0]!.retry.retryable = false),
      (t) => (t.steps[0]!.timeoutMs = 5),
      (t) => (t.steps[0]!.inputs = { z: 2 }),
      (t) => (t.steps[1]!.dependsOn = []),
      (t) => (t.steps[2]!.name = 'd'),
      (t) => (t.steps[0]!.description = undefined),
    ];
    const original = canonicalTemplateJson(base);
    for (const change of variants) {
      const copy = structuredClone(base);
      change(copy);
      expect(canonicalTemplateJson(copy), change.toString()).not.toBe(original);
    }
  });
});
