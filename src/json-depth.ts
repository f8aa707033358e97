/**
 * Nesting-depth checks for JSON. JavaScript's `JSON.stringify` and PostgreSQL's jsonb parser both recurse, so a
 * document nested thousands of levels deep overflows their stacks; Tasker refuses such documents up front with
 * a clear error instead. Both checks here are iterative, so they cannot overflow themselves.
 *
 * Depth counts containers: `1` and `"a"` have depth 0, `{}` and `[]` depth 1, `{"a": [1]}` depth 2.
 */

/** The nesting limit used where no configured value is at hand (`orchestration.api.max_json_depth` default). */
export const DEFAULT_MAX_JSON_DEPTH = 128;

/** The highest limit configuration accepts: well below the depth at which `JSON.stringify` overflows. */
export const MAX_JSON_DEPTH_LIMIT = 1000;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * True when JSON text nests deeper than `max`. Scans the text without parsing it (brackets inside strings do not
 * count), so it is safe to run before `JSON.parse` on untrusted input. Malformed text is left to the parser.
 */
export function jsonTextExceedsDepth(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
      if (depth > max) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

/**
 * True when a value (about to be serialized as JSON) nests deeper than `max`. Iterative. A cycle is not followed
 * (it is not "deep"; `JSON.stringify` reports it as circular), and a shared sub-object is only walked again when
 * reached at a greater depth, so the work stays bounded by `objects × max`.
 */
export function valueExceedsDepth(value: unknown, max: number): boolean {
  const seenAt = new Map<object, number>();
  const onPath = new Set<object>();
  // `leave` entries take a node off the current path once its children are done.
  const stack: { node: unknown; depth: number; leave: boolean }[] = [{ node: value, depth: 0, leave: false }];
  while (stack.length > 0) {
    const { node, depth: parentDepth, leave } = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (leave) {
      onPath.delete(node);
      continue;
    }
    if (onPath.has(node)) continue;
    const depth = parentDepth + 1;
    if (depth > max) return true;
    const seen = seenAt.get(node);
    if (seen !== undefined && seen >= depth) continue;
    seenAt.set(node, depth);
    onPath.add(node);
    stack.push({ node, depth: 0, leave: true });
    const children: unknown[] = Array.isArray(node) ? node : Object.values(node);
    for (const child of children) {
      if (child !== null && typeof child === 'object') stack.push({ node: child, depth, leave: false });
    }
  }
  return false;
}
