import type { EventCondition, EventDeclaration } from '../templates/types.js';
import type { StepOutcome } from './types.js';

/** Whether a declaration's condition holds for an attempt's outcome. */
export function conditionMatches(condition: EventCondition, outcome: StepOutcome): boolean {
  switch (condition) {
    case 'always':
      return true;
    case 'success':
      return outcome === 'success';
    case 'failure':
      return outcome !== 'success';
    case 'retryable_failure':
      return outcome === 'retryable_failure';
    case 'permanent_failure':
      return outcome === 'permanent_failure';
  }
}

/** The declarations that fire for this outcome, in declaration order. */
export function firingDeclarations(
  declarations: readonly EventDeclaration[] | undefined,
  outcome: StepOutcome,
): EventDeclaration[] {
  if (!declarations || declarations.length === 0) return [];
  return declarations.filter((d) => conditionMatches(d.condition, outcome));
}

/**
 * Compiles a subscription pattern: `*` alone matches every event; otherwise `*` matches one dotted segment
 * (or part of one) and `**` any run of segments, so `payment.*` matches `payment.processed` but not
 * `payment.refund.issued`, and `payment.**` matches both.
 */
export function compileEventPattern(pattern: string): (name: string) => boolean {
  if (pattern === '*' || pattern === '**') return () => true;
  if (!/^[a-z0-9_.*]+$/.test(pattern)) {
    throw new TypeError(
      `invalid event pattern '${pattern}': use event names with '*' (one segment) or '**' (any segments)`,
    );
  }
  const source = pattern
    .split(/(\*\*|\*)/)
    .map((part) => (part === '**' ? '.*' : part === '*' ? '[^.]*' : part.replace(/\./g, '\\.')))
    .join('');
  const re = new RegExp(`^${source}$`);
  return (name) => re.test(name);
}
