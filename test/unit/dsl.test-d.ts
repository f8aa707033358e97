import { describe, expectTypeOf, it } from 'vitest';
import { defineTemplate, type StepOptions, type TemplateBuilder } from '../../src/templates/index.js';

describe('defineTemplate types', () => {
  it('accumulates step names in the builder type', () => {
    const b = defineTemplate({ namespace: 'ns', name: 'n', version: '1.0.0' })
      .step('a', { handler: 'A' })
      .step('b', { handler: 'B', dependsOn: ['a'] });
    expectTypeOf(b).toEqualTypeOf<TemplateBuilder<'a' | 'b'>>();
  });

  it('types dependsOn as the names added so far', () => {
    const b = defineTemplate({ namespace: 'ns', name: 'n', version: '1.0.0' }).step('a', { handler: 'A' });
    expectTypeOf<Parameters<typeof b.step>[1]>().toEqualTypeOf<StepOptions<'a'>>();
    expectTypeOf<StepOptions<'a'>['dependsOn']>().toEqualTypeOf<readonly 'a'[] | undefined>();
    // @ts-expect-error 'z' was never added
    b.step('c', { handler: 'C', dependsOn: ['z'] });
    // @ts-expect-error 'a' already exists
    b.step('a', { handler: 'A2' });
  });
});
