import { describe, expect, it } from 'vitest';
import { TemplateValidationError } from '../../src/errors.js';
import { canonicalTemplateJson, defineTemplate, parseYamlTemplate } from '../../src/templates/index.js';

describe('defineTemplate', () => {
  it('builds the same TaskTemplate as the equivalent YAML', () => {
    const yaml = `
namespace_name: shop
name: order_flow
version: "2.0.0"
description: Takes an order
steps:
  - name: validate
    handler: { callable: shop.Validate, initialization: { max_amount: 5000 } }
    retry: { retryable: false, max_attempts: 1 }
    timeout_seconds: 10
  - name: charge
    description: Charges the card
    handler: shop.Charge
    depends_on: [validate]
    retry: { max_attempts: 5, backoff_base_ms: 200, jitter: 0 }
  - name: ship
    handler: shop.Ship
    depends_on: [charge, validate]
`;
    const fromDsl = defineTemplate({
      namespace: 'shop',
      name: 'order_flow',
      version: '2.0.0',
      description: 'Takes an order',
    })
      .step('validate', {
        handler: 'shop.Validate',
        inputs: { max_amount: 5000 },
        retry: { retryable: false, maxAttempts: 1 },
        timeoutMs: 10_000,
      })
      .step('charge', {
        handler: 'shop.Charge',
        description: 'Charges the card',
        dependsOn: ['validate'],
        retry: { maxAttempts: 5, backoffBaseMs: 200, jitter: 0 },
      })
      .step('ship', { handler: 'shop.Ship', dependsOn: ['charge', 'validate'] })
      .build();
    const fromYaml = parseYamlTemplate(yaml);
    expect(fromDsl).toStrictEqual(fromYaml);
    expect(canonicalTemplateJson(fromDsl)).toBe(canonicalTemplateJson(fromYaml));
  });

  it('applies retry defaults given to build()', () => {
    const t = defineTemplate({ namespace: 'ns', name: 'n', version: '1.0.0' })
      .step('a', { handler: 'A', retry: { jitter: 0.5 } })
      .build({ maxAttempts: 7, maxBackoffMs: 5000 });
    expect(t.steps[0]!.retry).toEqual({
      retryable: true,
      maxAttempts: 7,
      backoffBaseMs: 1000,
      backoffMultiplier: 2,
      maxBackoffMs: 5000,
      jitter: 0.5,
    });
  });

  it('only type-checks dependencies on steps already added, and rejects a repeated name', () => {
    const base = defineTemplate({ namespace: 'ns', name: 'n', version: '1.0.0' }).step('first', {
      handler: 'A',
    });

    // @ts-expect-error 'later' is not a step of this builder yet
    const wrong = base.step('second', { handler: 'B', dependsOn: ['later'] });
    // The type error has a runtime twin for callers that bypass the types.
    expect(() => wrong.build()).toThrow(/depends on unknown step 'later'/);

    // @ts-expect-error a step cannot depend on itself before it exists
    expect(() => base.step('self', { handler: 'C', dependsOn: ['self'] }).build()).toThrow(
      TemplateValidationError,
    );

    // @ts-expect-error 'first' is already defined
    expect(() => base.step('first', { handler: 'D' }).build()).toThrow(/duplicate step name 'first'/);

    // The first step cannot depend on anything.
    const empty = defineTemplate({ namespace: 'ns', name: 'n', version: '1.0.0' });
    // @ts-expect-error no step exists yet
    empty.step('a', { handler: 'A', dependsOn: ['a'] });

    const ok = base.step('second', { handler: 'B', dependsOn: ['first'] }).build();
    expect(ok.steps.map((s) => s.dependsOn)).toEqual([[], ['first']]);
  });

  it('still checks at run time when step names are not literal types', () => {
    const names: string[] = ['x', 'x'];
    let b = defineTemplate({ namespace: 'ns', name: 'n', version: '1.0.0' }).step(names[0]!, {
      handler: 'A',
    });
    b = b.step(names[1]!, { handler: 'B', dependsOn: ['nothing'] });
    try {
      b.build();
      expect.unreachable();
    } catch (e) {
      expect((e as TemplateValidationError).issues.map((i) => i.path)).toEqual([
        'steps[1].name',
        'steps[1].dependsOn[0]',
      ]);
    }
  });

  it('is immutable: branching from a shared builder does not leak steps', () => {
    const base = defineTemplate({ namespace: 'ns', name: 'n', version: '1.0.0' }).step('a', { handler: 'A' });
    const left = base.step('b', { handler: 'B', dependsOn: ['a'] }).build();
    const right = base.step('c', { handler: 'C' }).build();
    expect(left.steps.map((s) => s.name)).toEqual(['a', 'b']);
    expect(right.steps.map((s) => s.name)).toEqual(['a', 'c']);
    expect(base.build().steps).toHaveLength(1);
  });

  it('validates the header and step settings, listing every issue', () => {
    try {
      defineTemplate({ namespace: 'bad ns', name: 'n', version: '1' })
        .step('a', { handler: '', retry: { maxAttempts: 0 }, timeoutMs: -1 })
        .build();
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TemplateValidationError);
      expect((e as TemplateValidationError).issues.map((i) => i.path)).toEqual([
        'namespace',
        'version',
        'steps[0].handler',
        'steps[0].retry.maxAttempts',
        'steps[0].timeoutMs',
      ]);
    }
  });

  it('dedupes a repeated dependency and copies inputs', () => {
    const inputs = { k: 1 };
    const t = defineTemplate({ namespace: 'ns', name: 'n', version: '1.0.0' })
      .step('a', { handler: 'A', inputs })
      .step('b', { handler: 'B', dependsOn: ['a', 'a'] })
      .build();
    expect(t.steps[1]!.dependsOn).toEqual(['a']);
    inputs.k = 2;
    expect(t.steps[0]!.inputs).toEqual({ k: 1 });
  });
});
