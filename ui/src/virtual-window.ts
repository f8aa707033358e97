/**
 * Virtualised lists with a fixed row height: only the rows in view (plus a few either side) are in the DOM, so a
 * list of 100,000 tasks or 1,000 steps scrolls like a list of 30.
 */

export interface WindowRange {
  /** Index of the first rendered row. */
  first: number;
  /** One past the last rendered row. */
  last: number;
  /** Top offset of the first rendered row, in pixels. */
  offset: number;
  /** Height of the whole list, in pixels. */
  total: number;
}

/** The rows to render for a viewport scrolled to `scrollTop`. */
export function windowRange(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  count: number,
  overscan = 6,
): WindowRange {
  const total = count * rowHeight;
  if (count === 0 || rowHeight <= 0) return { first: 0, last: 0, offset: 0, total };
  const top = Math.max(0, Math.min(scrollTop, Math.max(0, total - viewportHeight)));
  const first = Math.max(0, Math.floor(top / rowHeight) - overscan);
  const last = Math.min(count, Math.ceil((top + Math.max(0, viewportHeight)) / rowHeight) + overscan);
  return { first, last, offset: first * rowHeight, total };
}

/** True when the viewport is within `threshold` rows of the end: time to fetch the next page. */
export function nearEnd(range: WindowRange, count: number, threshold = 20): boolean {
  return count - range.last <= threshold;
}
