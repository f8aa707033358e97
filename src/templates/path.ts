/** Issue paths as segment lists, formatted like `steps[2].depends_on[0]`. */

/** One step of a path into a template: an object key or an array index. */
export type PathSegment = string | number;

/** Formats `['steps', 2, 'depends_on', 0]` as `steps[2].depends_on[0]`; the empty path is `''`. */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else out += out === '' ? s : `.${s}`;
  }
  return out;
}

/** True when `path` equals `prefix` or lies below it. */
export function isPathWithin(path: readonly PathSegment[], prefix: readonly PathSegment[]): boolean {
  if (prefix.length > path.length) return false;
  return prefix.every((s, i) => path[i] === s);
}
