/**
 * A scrolling list that renders only the rows in view (fixed row height, see virtual-window.ts), and asks for
 * more when the end comes near (cursor pagination).
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { nearEnd, windowRange } from '../virtual-window.js';

export interface VirtualListProps<T> {
  items: readonly T[];
  rowHeight: number;
  keyOf: (item: T) => string;
  renderRow: (item: T, index: number) => ComponentChildren;
  /** Called when the last rows come into view (once per item count). */
  onNearEnd?: () => void;
  class?: string;
  label?: string;
  /**
   * Size the list to its rows, up to this many pixels (then it scrolls). Without it the list fills the height
   * its container gives it.
   */
  maxHeight?: number;
}

export function VirtualList<T>(props: VirtualListProps<T>) {
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return undefined;
    setHeight(el.clientHeight);
    const observer = new ResizeObserver(() => setHeight(el.clientHeight));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  const range = windowRange(scrollTop, height, props.rowHeight, props.items.length);
  const count = props.items.length;
  const wantMore = props.onNearEnd !== undefined && nearEnd(range, count);
  const askedAt = useRef(-1);
  useEffect(() => {
    if (wantMore && askedAt.current !== count) {
      askedAt.current = count;
      props.onNearEnd?.();
    }
  }, [wantMore, count, props]);
  const rows: ComponentChildren[] = [];
  for (let i = range.first; i < range.last; i++) {
    const item = props.items[i] as T;
    rows.push(
      <div class="vrow" key={props.keyOf(item)} role="row" style={{ height: `${props.rowHeight}px` }}>
        {props.renderRow(item, i)}
      </div>,
    );
  }
  return (
    <div
      ref={ref}
      class={`vlist ${props.class ?? ''}`}
      role="rowgroup"
      aria-label={props.label}
      style={
        props.maxHeight === undefined
          ? undefined
          : { height: `${Math.min(props.maxHeight, count * props.rowHeight)}px` }
      }
      onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
    >
      <div class="vlist-spacer" style={{ height: `${range.total}px` }}>
        <div class="vlist-rows" style={{ transform: `translateY(${range.offset}px)` }}>
          {rows}
        </div>
      </div>
    </div>
  );
}
