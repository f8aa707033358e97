/**
 * Who may see the stack traces of step errors. A stack names the server's files and code paths, which is useful
 * to the operators who act on failed steps and noise (or a leak) to everyone else, so API responses carry the
 * `stack` of a step error only for callers holding an operator permission. With authentication disabled every
 * caller holds `*` and sees stacks (a development setup has no one to hide them from).
 */
import type { ApiPermission, Principal } from './auth.js';

/** The permissions that make a caller an operator, who sees stacks: they act on failed steps and tasks. */
export const STACK_PERMISSIONS: readonly ApiPermission[] = ['steps:resolve', 'dlq:update'];

/** True when `principal` may see the stacks of step errors. */
export function seesStacks(principal: Principal): boolean {
  return principal.permissions.has('*') || STACK_PERMISSIONS.some((p) => principal.permissions.has(p));
}

/** A step error without its stack (a new object; the input is untouched). */
export function withoutStack<E extends { stack?: string | undefined }>(error: E): Omit<E, 'stack'> {
  const { stack: _stack, ...rest } = error;
  return rest;
}

/**
 * A dead-letter snapshot without the stack of the error it holds (`error.error.stack`, as filed by the engine).
 * Other keys of the snapshot are returned as stored.
 */
export function snapshotWithoutStack(snapshot: Record<string, unknown>): Record<string, unknown> {
  const outer = snapshot.error;
  if (outer === null || typeof outer !== 'object' || Array.isArray(outer)) return snapshot;
  const inner = (outer as Record<string, unknown>).error;
  if (inner === null || typeof inner !== 'object' || Array.isArray(inner) || !('stack' in inner)) {
    return snapshot;
  }
  return { ...snapshot, error: { ...outer, error: withoutStack(inner as { stack?: string }) } };
}
