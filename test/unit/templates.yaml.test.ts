import { describe, expect, it } from 'vitest';
import { ErrorCode, TemplateValidationError, type ValidationIssue } from '../../src/errors.js';
import { FALLBACK_RETRY_DEFAULTS, parseYamlTemplate, type TaskTemplate } from '../../src/templates/index.js';

/** Parses `text` expecting failure and returns the issues. */
function issuesOf(text: string, source?: string): readonly ValidationIssue[] {
  try {
    parseYamlTemplate(text, source);
  } catch (e) {
    expect(e).toBeInstanceOf(TemplateValidationError);
    return (e as TemplateValidationError).issues;
  }
  throw new Error('expected the template to be rejected');
}

/** The single issue at `path`, failing when there is none or more than one. */
function issueAt(issues: readonly ValidationIssue[], path: string): ValidationIssue {
  const found = issues.filter((i) => i.path === path);
  expect(found, `issues at ${path} in ${JSON.stringify(issues, null, 1)}`).toHaveLength(1);
  return found[0]!;
}

const HEADER = `name: order_flow
namespace_name: shop
version: "1.0.0"
`;

/** A one-step template whose step body is `stepBody` (indented under `- `). */
function oneStep(stepBody: string): string {
  return `${HEADER}steps:\n  - name: only\n${stepBody
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => `    ${l}`)
    .join('\n')}\n`;
}

describe('parseYamlTemplate: accepted input', () => {
  it('normalizes a complete template, with aliases, shorthand and ignored keys', () => {
    const text = `# a comment
name: order.flow-v2
namespace: shop
version: "1.2.3-beta.1+build.5"
description: Takes an order
metadata: { author: someone, tags: [a, b] }
lifecycle: { max_steps_in_process_minutes: 20 }
input_schema: { type: object }
environments: { test: { steps: [ { name: ALL, retry: { max_attempts: 2 } } ] } }
system_dependencies: { primary: default }
domain_events: []
loaded_from: somewhere
steps:
  - name: validate
    description: Checks the order
    handler:
      callable: shop.Validate
      method: call
      resolver: explicit_mapping
      initialization: { max_amount: 5000, tags: [x], nested: { ok: true } }
    retry:
      retryable: false
      max_attempts: 5
      backoff: exponential
      backoff_base_ms: 250
      max_backoff_ms: 9000
      backoff_multiplier: 3
      jitter: 0.5
    timeout_seconds: 1.5
    system_dependency: default
    publishes_events: []
    result_schema: { type: object }
  - name: charge
    step_type: standard
    handler: shop.Charge
    depends_on: [validate, validate]
    retry: { limit: 7 }
  - name: ship
    type: standard
    dependencies: [charge, validate]
    handler: { callable: shop.Ship, initialization: null }
    retry: null
`;
    const expected: TaskTemplate = {
      namespace: 'shop',
      name: 'order.flow-v2',
      version: '1.2.3-beta.1+build.5',
      description: 'Takes an order',
      steps: [
        {
          name: 'validate',
          description: 'Checks the order',
          handler: 'shop.Validate',
          type: 'standard',
          dependsOn: [],
          retry: {
            retryable: false,
            maxAttempts: 5,
            backoffBaseMs: 250,
            maxBackoffMs: 9000,
            backoffMultiplier: 3,
            jitter: 0.5,
          },
          timeoutMs: 1500,
          inputs: { max_amount: 5000, tags: ['x'], nested: { ok: true } },
        },
        {
          name: 'charge',
          handler: 'shop.Charge',
          type: 'standard',
          dependsOn: ['validate'],
          retry: {
            retryable: true,
            maxAttempts: 7,
            backoffBaseMs: 1000,
            maxBackoffMs: 60000,
            backoffMultiplier: 2,
            jitter: 0.15,
          },
          inputs: {},
        },
        {
          name: 'ship',
          handler: 'shop.Ship',
          type: 'standard',
          dependsOn: ['charge', 'validate'],
          retry: {
            retryable: true,
            maxAttempts: 3,
            backoffBaseMs: 1000,
            maxBackoffMs: 60000,
            backoffMultiplier: 2,
            jitter: 0.15,
          },
          inputs: {},
        },
      ],
    };
    const parsed = parseYamlTemplate(text, 'order.yml');
    expect(parsed).toStrictEqual(expected);
  });

  it('uses the fallback retry defaults 3 / 1000 / 2 / 60000 / 0.15', () => {
    expect(FALLBACK_RETRY_DEFAULTS).toEqual({
      maxAttempts: 3,
      backoffBaseMs: 1000,
      backoffMultiplier: 2,
      maxBackoffMs: 60000,
      jitter: 0.15,
    });
    const t = parseYamlTemplate(oneStep('handler: H'));
    expect(t.steps[0]!.retry).toEqual({ retryable: true, ...FALLBACK_RETRY_DEFAULTS });
    expect(t.steps[0]!.timeoutMs).toBeUndefined();
    expect(t.description).toBeUndefined();
  });

  it('takes missing retry fields from the given defaults, and fields in the file win', () => {
    const t = parseYamlTemplate(oneStep('handler: H\nretry: { max_attempts: 9 }'), undefined, {
      maxAttempts: 4,
      backoffBaseMs: 10,
      maxBackoffMs: 20,
      backoffMultiplier: 1.5,
      jitter: 0,
    });
    expect(t.steps[0]!.retry).toEqual({
      retryable: true,
      maxAttempts: 9,
      backoffBaseMs: 10,
      maxBackoffMs: 20,
      backoffMultiplier: 1.5,
      jitter: 0,
    });
  });

  it('fills only the missing default fields from the fallbacks', () => {
    const t = parseYamlTemplate(oneStep('handler: H'), undefined, { maxAttempts: 8 });
    expect(t.steps[0]!.retry).toEqual({ ...FALLBACK_RETRY_DEFAULTS, retryable: true, maxAttempts: 8 });
  });

  it('accepts an explicit null description, steps and dependency list', () => {
    const t = parseYamlTemplate(
      `${HEADER}description: null\nsteps:\n  - { name: a, handler: A, depends_on: null }\n`,
    );
    expect(t.steps[0]!.dependsOn).toEqual([]);
    expect('description' in t).toBe(false);
  });

  it('reads YAML anchors and aliases', () => {
    const t = parseYamlTemplate(`${HEADER}steps:
  - name: a
    handler: A
    retry: &r { max_attempts: 6 }
  - name: b
    handler: B
    retry: *r
`);
    expect(t.steps[1]!.retry.maxAttempts).toBe(6);
  });
});

describe('parseYamlTemplate: issues with paths and lines', () => {
  it('throws a TemplateValidationError with code TEMPLATE_INVALID naming the source', () => {
    try {
      parseYamlTemplate(`${HEADER}steps: []\n`, 'tasks/x.yml');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TemplateValidationError);
      const err = e as TemplateValidationError;
      expect(err.code).toBe(ErrorCode.TemplateInvalid);
      expect(err.issues).toEqual([
        { path: 'steps', message: 'a template needs at least one step', source: 'tasks/x.yml', line: 4 },
      ]);
      expect(err.message).toContain('shop/order_flow@1.0.0');
      expect(err.message).toContain('tasks/x.yml:4');
    }
  });

  it('reports malformed YAML with its line', () => {
    const issues = issuesOf('name: a\nnamespace_name: b\nsteps:\n  - name: [unclosed\n', 'bad.yml');
    expect(issues.length).toBeGreaterThanOrEqual(1);
    expect(issues[0]!.message).toMatch(/^malformed YAML/);
    expect(issues[0]!.line).toBe(5);
    expect(issues[0]!.source).toBe('bad.yml');
  });

  it('reports duplicate keys as malformed YAML', () => {
    const issues = issuesOf(`${HEADER}name: again\nsteps: []\n`);
    expect(issues[0]!.message).toMatch(/malformed YAML/);
    expect(issues[0]!.line).toBe(4);
  });

  it('rejects a document that is not a mapping', () => {
    expect(issueAt(issuesOf('- a\n- b\n'), '').message).toMatch(/must be a YAML mapping/);
    expect(issueAt(issuesOf(''), '').message).toMatch(/got null/);
  });

  it('reports missing required keys', () => {
    const issues = issuesOf('description: nothing else\n');
    expect(issueAt(issues, 'namespace_name').message).toBe('namespace_name is required');
    expect(issueAt(issues, 'name').message).toBe('name is required');
    expect(issueAt(issues, 'version').message).toBe('version is required');
    expect(issueAt(issues, 'steps').message).toBe('a template needs at least one step');
  });

  it('reports wrong types without repeating them as rule violations', () => {
    const issues = issuesOf(
      'name: [a]\nnamespace_name: 12\nversion: 1.0\nsteps:\n  - name: a\n    handler: A\n',
    );
    expect(issueAt(issues, 'name')).toMatchObject({ line: 1, message: 'name must be a string; got a list' });
    expect(issueAt(issues, 'namespace_name')).toMatchObject({
      line: 2,
      message: 'namespace_name must be a string; got number 12',
    });
    expect(issueAt(issues, 'version')).toMatchObject({ line: 3 });
    expect(issueAt(issues, 'version').message).toMatch(/quoted MAJOR\.MINOR\.PATCH.*number 1$/);
    expect(issues).toHaveLength(3);
  });

  it('checks the namespace pattern and its 29-character limit, under the key that was used', () => {
    expect(
      issueAt(
        issuesOf(`name: a\nnamespace_name: 9lives\nversion: "1.0.0"\nsteps: [{ name: s, handler: H }]\n`),
        'namespace_name',
      ),
    ).toMatchObject({ line: 2 });
    const long = 'n'.repeat(30);
    const i = issueAt(
      issuesOf(`name: a\nnamespace: ${long}\nversion: "1.0.0"\nsteps: [{ name: s, handler: H }]\n`),
      'namespace',
    );
    expect(i.line).toBe(2);
    expect(i.message).toContain('at most 29');
    expect(() =>
      parseYamlTemplate(
        `name: a\nnamespace: ${'n'.repeat(29)}\nversion: "1.0.0"\nsteps: [{ name: s, handler: H }]\n`,
      ),
    ).not.toThrow();
  });

  it('rejects both namespace spellings at once', () => {
    const issues = issuesOf(`${HEADER}namespace: other\nsteps: [{ name: s, handler: H }]\n`);
    expect(issueAt(issues, 'namespace')).toMatchObject({ line: 4 });
    expect(issues).toHaveLength(1);
  });

  it('checks the template name', () => {
    const text = (n: string): string =>
      `name: "${n}"\nnamespace_name: ns\nversion: "1.0.0"\nsteps: [{ name: s, handler: H }]\n`;
    expect(issueAt(issuesOf(text('has space')), 'name').line).toBe(1);
    expect(issueAt(issuesOf(text('-lead')), 'name').message).toMatch(/invalid/);
    expect(issueAt(issuesOf(text('x'.repeat(65))), 'name').message).toMatch(/at most 64/);
    expect(parseYamlTemplate(text('x'.repeat(64))).name).toHaveLength(64);
  });

  it('requires a strict semantic version', () => {
    const text = (v: string): string =>
      `name: a\nnamespace_name: ns\nversion: "${v}"\nsteps: [{ name: s, handler: H }]\n`;
    for (const bad of ['1.0', 'v1.0.0', '01.0.0', '1.0.0-', '1.0.0+', '1.0.0-01', 'latest']) {
      const i = issueAt(issuesOf(text(bad)), 'version');
      expect(i.line, bad).toBe(3);
      expect(i.message, bad).toContain(`'${bad}' is not a semantic version`);
    }
    for (const good of [
      '0.0.0',
      '1.2.3',
      '10.20.30-rc.1',
      '1.0.0-alpha-a.b-c',
      '1.0.0+20130313144700',
      '1.0.0-0.3.7',
    ]) {
      expect(parseYamlTemplate(text(good)).version).toBe(good);
    }
  });

  it('reports unknown keys at every level, but not the documented ignored ones', () => {
    const issues = issuesOf(`${HEADER}metadata: {}
stepz: []
steps:
  - name: a
    handler: { callable: A, calable: B }
    depend_on: [x]
    retry: { max_attempt: 2 }
`);
    expect(issueAt(issues, 'stepz')).toMatchObject({ line: 5, message: "unknown key 'stepz'" });
    expect(issueAt(issues, 'steps[0].handler.calable')).toMatchObject({ line: 8 });
    expect(issueAt(issues, 'steps[0].depend_on')).toMatchObject({
      line: 9,
      message: "unknown step key 'depend_on'",
    });
    expect(issueAt(issues, 'steps[0].retry.max_attempt')).toMatchObject({ line: 10 });
    expect(issues).toHaveLength(4);
  });

  it('reports a step that is not a mapping, and does not add "no steps" on top', () => {
    const issues = issuesOf(`${HEADER}steps:\n  - just_a_name\n`);
    expect(issueAt(issues, 'steps[0]')).toMatchObject({ line: 5 });
    expect(issues).toHaveLength(1);
  });

  it('maps issues of later steps to their YAML index when an earlier item was skipped', () => {
    const issues = issuesOf(`${HEADER}steps:\n  - 42\n  - name: b\n    handler: B\n    depends_on: [nope]\n`);
    expect(issueAt(issues, 'steps[1].depends_on[0]')).toMatchObject({ line: 8 });
  });

  it('checks step names, with the line of the name', () => {
    const issues = issuesOf(`${HEADER}steps:
  - name: bad-name
    handler: A
  - handler: B
  - name: ${'s'.repeat(129)}
    handler: C
`);
    expect(issueAt(issues, 'steps[0].name')).toMatchObject({ line: 5 });
    expect(issueAt(issues, 'steps[1].name')).toMatchObject({ message: 'step name is required', line: 7 });
    expect(issueAt(issues, 'steps[2].name').message).toMatch(/at most 128/);
  });

  it('reports duplicate step names at the second definition', () => {
    const issues = issuesOf(
      `${HEADER}steps:\n  - { name: a, handler: A }\n  - { name: b, handler: B }\n  - { name: a, handler: C }\n`,
    );
    const i = issueAt(issues, 'steps[2].name');
    expect(i.message).toBe("duplicate step name 'a' (first defined at steps[0])");
    expect(i.line).toBe(7);
  });

  it('requires a handler in either form', () => {
    const issues = issuesOf(`${HEADER}steps:
  - name: a
  - name: b
    handler: { initialization: { x: 1 } }
  - name: c
    handler: ""
  - name: d
    handler: 12
`);
    expect(issueAt(issues, 'steps[0].handler').message).toMatch(/step 'a' needs a handler/);
    expect(issueAt(issues, 'steps[0].handler').line).toBe(5);
    expect(issueAt(issues, 'steps[1].handler.callable')).toMatchObject({
      message: 'handler.callable is required',
      line: 7,
    });
    expect(issueAt(issues, 'steps[2].handler')).toMatchObject({ line: 9 });
    expect(issueAt(issues, 'steps[3].handler').message).toMatch(/name or a mapping/);
    expect(issues).toHaveLength(4);
  });

  it('rejects handler methods other than call, and a non-mapping initialization', () => {
    const issues = issuesOf(oneStep('handler: { callable: A, method: review, initialization: [1, 2] }'));
    expect(issueAt(issues, 'steps[0].handler.method').message).toMatch(/not supported/);
    expect(issueAt(issues, 'steps[0].handler.initialization').message).toBe(
      'initialization must be a mapping; got a list',
    );
  });

  it('reads every step type under either key, with the reference aliases', () => {
    const yaml = (key: string, decisionType: string, convergenceType: string): string =>
      `${HEADER}steps:
  - name: start
    handler: H
  - name: route
    handler: H
    ${key}: ${decisionType}
    depends_on: [start]
  - name: a
    handler: H
    depends_on: [route]
  - name: b
    handler: H
    depends_on: [route]
  - name: split
    handler: H
    ${key}: batchable
    depends_on: [start]
  - name: part
    handler: H
    ${key}: batch_worker
    depends_on: [split]
    batch_config: { failure_strategy: continue_on_failure, batch_size: 50, parallelism: 4 }
  - name: join
    handler: H
    ${key}: ${convergenceType}
    depends_on: [a, b, part]
`;
    for (const key of ['type', 'step_type']) {
      for (const [d, c] of [
        ['decision', 'deferred_convergence'],
        ['decision_point', 'deferred'],
      ] as const) {
        const t = parseYamlTemplate(yaml(key, d, c));
        expect(t.steps.map((s) => [s.name, s.type])).toEqual([
          ['start', 'standard'],
          ['route', 'decision'],
          ['a', 'standard'],
          ['b', 'standard'],
          ['split', 'batchable'],
          ['part', 'batch_worker'],
          ['join', 'deferred_convergence'],
        ]);
        expect(t.steps[5]!.batch).toEqual({ failureStrategy: 'continue', batchSize: 50, maxBatches: 1000 });
      }
    }
  });

  it('reports broken dynamic-step layouts where they are', () => {
    const issues = issuesOf(`${HEADER}steps:
  - name: route
    handler: H
    type: decision
  - name: split
    handler: H
    type: batchable
  - name: part
    handler: H
    type: batch_worker
    depends_on: [split]
    batch_config: { failure_strategy: isolate, colour: red }
  - name: after
    handler: H
    depends_on: [part]
`);
    const text = issues.map((i) => `${i.path}: ${i.message}`).join('\n');
    expect(text).toMatch(/steps\[0\]\.type: decision step 'route' needs steps that depend on it/);
    expect(text).toMatch(/steps\[2\]\.batch_config\.colour: unknown batch_config key 'colour'/);
    expect(text).toMatch(/steps\[2\]\.batch_config\.failure_strategy: failure strategy must be one of/);
    expect(text).toMatch(/steps\[3\]\.depends_on: step 'after' depends on batch_worker 'part'/);
    expect(text).toMatch(/steps\[2\]\.type: batch_worker step 'part' needs exactly one deferred_convergence/);
  });

  it('rejects unknown step types', () => {
    expect(issueAt(issuesOf(oneStep('handler: H\ntype: fancy')), 'steps[0].type').message).toMatch(
      /unknown step type string "fancy"/,
    );
    expect(
      issueAt(issuesOf(oneStep('handler: H\ntype: standard\nstep_type: standard')), 'steps[0].step_type'),
    );
  });

  it('reports unknown, self and duplicate-key dependencies with the index in the file', () => {
    const issues = issuesOf(`${HEADER}steps:
  - name: a
    handler: A
  - name: b
    handler: B
    depends_on:
      - a
      - a
      - b
      - ghost
      - 7
`);
    expect(issueAt(issues, 'steps[1].depends_on[2]')).toMatchObject({
      message: "step 'b' depends on itself",
      line: 12,
    });
    expect(issueAt(issues, 'steps[1].depends_on[3]')).toMatchObject({
      message: "step 'b' depends on unknown step 'ghost'",
      line: 13,
    });
    expect(issueAt(issues, 'steps[1].depends_on[4]')).toMatchObject({ line: 14 });
    expect(issues).toHaveLength(3);
  });

  it('names the key actually used for dependencies', () => {
    const issues = issuesOf(oneStep('handler: H\ndependencies: [missing]'));
    expect(issueAt(issues, 'steps[0].dependencies[0]').message).toBe(
      "step 'only' depends on unknown step 'missing'",
    );
    expect(
      issueAt(issuesOf(oneStep('handler: H\ndependencies: a')), 'steps[0].dependencies').message,
    ).toMatch(/list/);
    expect(
      issueAt(issuesOf(oneStep('handler: H\ndependencies: []\ndepends_on: []')), 'steps[0].dependencies'),
    );
  });

  it('reports a dependency cycle with its path', () => {
    const issues = issuesOf(`${HEADER}steps:
  - { name: a, handler: A, depends_on: [c] }
  - { name: b, handler: B, depends_on: [a] }
  - { name: c, handler: C, depends_on: [b] }
  - { name: d, handler: D }
`);
    const i = issueAt(issues, 'steps[0].depends_on[0]');
    expect(i.message).toBe('dependency cycle: a -> c -> b -> a (each step depends on the next)');
    expect(i.line).toBe(5);
    expect(issues).toHaveLength(1);
  });

  it('checks retry ranges under the keys used in the file', () => {
    const issues = issuesOf(`${HEADER}steps:
  - name: a
    handler: A
    retry: { max_attempts: 0, backoff_base_ms: -1, jitter: 1.5, backoff_multiplier: 0.5 }
  - name: b
    handler: B
    retry: { limit: 101 }
  - name: c
    handler: C
    retry:
      max_attempts: 2.5
      backoff_base_ms: 5000
      max_backoff_ms: 100
  - name: d
    handler: D
    retry: { retryable: "yes", backoff: linear, max_attempts: "3" }
`);
    expect(issueAt(issues, 'steps[0].retry.max_attempts').message).toBe(
      'max attempts must be a whole number from 1 to 100; got 0',
    );
    expect(issueAt(issues, 'steps[0].retry.backoff_base_ms').line).toBe(7);
    expect(issueAt(issues, 'steps[0].retry.jitter').message).toMatch(/from 0 to 1; got 1.5/);
    expect(issueAt(issues, 'steps[0].retry.backoff_multiplier').message).toMatch(/>= 1; got 0.5/);
    expect(issueAt(issues, 'steps[1].retry.limit')).toMatchObject({ line: 10 });
    expect(issueAt(issues, 'steps[2].retry.max_attempts')).toMatchObject({ line: 14 });
    expect(issueAt(issues, 'steps[2].retry.max_backoff_ms')).toMatchObject({ line: 16 });
    expect(issueAt(issues, 'steps[2].retry.max_backoff_ms').message).toMatch(/smaller than the base backoff/);
    expect(issueAt(issues, 'steps[3].retry.retryable').message).toMatch(/true or false/);
    expect(issueAt(issues, 'steps[3].retry.backoff').message).toMatch(/only 'exponential'/);
    expect(issueAt(issues, 'steps[3].retry.max_attempts').message).toMatch(/must be a number; got string/);
    expect(issues).toHaveLength(10);
  });

  it('reports a retry value that only the defaults make invalid at the retry key', () => {
    const issues = issuesOf(oneStep('handler: H\nretry: { backoff_base_ms: 120000 }'));
    // max_backoff_ms is not in the file (it comes from the default 60000), so the line is the one of `retry`.
    expect(issueAt(issues, 'steps[0].retry.max_backoff_ms')).toMatchObject({ line: 7 });
  });

  it('treats keys named like Object.prototype members as unknown', () => {
    const issues = issuesOf(oneStep('handler: H\nretry: { constructor: 1, toString: 2 }\nhasOwnProperty: 3'));
    expect(issues.map((i) => i.path).sort()).toEqual([
      'steps[0].hasOwnProperty',
      'steps[0].retry.constructor',
      'steps[0].retry.toString',
    ]);
  });

  it('rejects both spellings of max attempts at once', () => {
    const issues = issuesOf(oneStep('handler: H\nretry: { max_attempts: 2, limit: 2 }'));
    expect(issueAt(issues, 'steps[0].retry.limit').message).toMatch(/legacy spelling/);
  });

  it('converts timeout_seconds to ms and checks it', () => {
    expect(parseYamlTemplate(oneStep('handler: H\ntimeout_seconds: 30')).steps[0]!.timeoutMs).toBe(30000);
    expect(
      issueAt(issuesOf(oneStep('handler: H\ntimeout_seconds: 0')), 'steps[0].timeout_seconds').line,
    ).toBe(7);
    expect(
      issueAt(issuesOf(oneStep('handler: H\ntimeout_seconds: -5')), 'steps[0].timeout_seconds').message,
    ).toMatch(/positive/);
    expect(
      issueAt(issuesOf(oneStep('handler: H\ntimeout_seconds: 3000000')), 'steps[0].timeout_seconds').message,
    ).toMatch(/at most 2147483647 ms/);
    expect(
      issueAt(issuesOf(oneStep('handler: H\ntimeout_seconds: soon')), 'steps[0].timeout_seconds').message,
    ).toMatch(/must be a number/);
  });

  it('rejects inputs that are not plain JSON, naming the nested key', () => {
    const issues = issuesOf(
      oneStep('handler:\n  callable: H\n  initialization:\n    limits:\n      max: .inf'),
    );
    expect(issueAt(issues, 'steps[0].handler.initialization.limits.max')).toMatchObject({ line: 10 });
  });

  it('collects every issue of a template in one error, in file order', () => {
    const text = `name: "bad name"
namespace_name: ok
version: "1"
steps:
  - name: a
    handler: A
    depends_on: [b]
  - name: b
    handler: B
    depends_on: [a]
  - name: c
    type: fancy
    retry: { max_attempts: 0 }
  - name: a
    handler: D
`;
    const issues = issuesOf(text, 'multi.yml');
    expect(issues.map((i) => [i.path, i.line])).toEqual([
      ['name', 1],
      ['version', 3],
      ['steps[0].depends_on[0]', 7],
      ['steps[2].handler', 11],
      ['steps[2].type', 12],
      ['steps[2].retry.max_attempts', 13],
      ['steps[3].name', 14],
    ]);
    expect(issues.every((i) => i.source === 'multi.yml')).toBe(true);
    expect(issues[2]!.message).toBe('dependency cycle: a -> b -> a (each step depends on the next)');
  });
});
