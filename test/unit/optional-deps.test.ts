import { describe, expect, it } from 'vitest';
import { TaskerError } from '../../src/errors.js';
import { importOptional } from '../../src/runtime/optional.js';

describe('optional dependencies', () => {
  it('a missing optional package is named in a clear error that says what it is needed for', async () => {
    const err = await importOptional('@tasker-test/not-installed/sub', 'to do the thing').catch(
      (e: unknown) => e,
    );
    expect(TaskerError.is(err)).toBe(true);
    expect((err as TaskerError).code).toBe('CONFIG_INVALID');
    expect((err as Error).message).toBe(
      'install @tasker-test/not-installed to do the thing (it is an optional dependency of tasker: ' +
        'npm install @tasker-test/not-installed)',
    );
  });

  it('an installed one loads', async () => {
    const mod = await importOptional<{ parse: unknown }>('yaml', 'to parse YAML');
    expect(typeof mod.parse).toBe('function');
  });
});
