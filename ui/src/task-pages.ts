/**
 * The task list's data: pages fetched with the server's cursor as the list scrolls, the first page re-read every
 * few seconds so new tasks and state changes show up without a reload. Filtering is the server's.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type Api } from './api.js';
import type { TaskSummaryBody } from './api-types.js';
import { filterBody, listQuery, type TaskFilters } from './task-filters.js';

export const PAGE_SIZE = 100;
const POLL_MS = 4000;

/**
 * Merges a fresh first page into the loaded list: when only one page is loaded it replaces the list (tasks that
 * left the filter disappear); otherwise the fresh rows are updated in place and new ones prepended.
 */
export function mergeFirstPage(
  loaded: readonly TaskSummaryBody[],
  fresh: readonly TaskSummaryBody[],
  pagesLoaded: number,
): TaskSummaryBody[] {
  if (pagesLoaded <= 1) return [...fresh];
  const byId = new Map(fresh.map((t) => [t.task_uuid, t]));
  const known = new Set(loaded.map((t) => t.task_uuid));
  const added = fresh.filter((t) => !known.has(t.task_uuid));
  return [...added, ...loaded.map((t) => byId.get(t.task_uuid) ?? t)];
}

export interface TaskPages {
  items: TaskSummaryBody[];
  /** False once the last page is loaded. */
  hasMore: boolean;
  loading: boolean;
  error: ApiError | undefined;
  loadMore: () => void;
  reload: () => void;
}

export function useTaskPages(api: Api, filters: TaskFilters): TaskPages {
  const [items, setItems] = useState<TaskSummaryBody[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [generation, setGeneration] = useState(0);
  const pages = useRef(0);
  const busy = useRef(false);
  const key = JSON.stringify(filters);

  const fetchPage = useCallback(
    (after: string | undefined) =>
      api.listTasks({
        ...listQuery(filterBody(filters, Date.now())),
        limit: String(PAGE_SIZE),
        cursor: after,
      }),
    // The filters are compared by value (their JSON), not by object identity.
    [api, key],
  );

  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    pages.current = 0;
    setItems([]);
    setCursor(null);
    const first = async (initial: boolean) => {
      if (initial) setLoading(true);
      try {
        const page = await fetchPage(undefined);
        if (!live) return;
        setItems((known) => mergeFirstPage(known, page.items, initial ? 1 : pages.current));
        if (initial || pages.current <= 1) setCursor(page.next_cursor);
        if (initial) pages.current = 1;
        setError(undefined);
      } catch (e) {
        if (live) setError(e instanceof ApiError ? e : new ApiError(0, 'CLIENT', (e as Error).message));
      } finally {
        if (live) {
          setLoading(false);
          timer = setTimeout(() => void first(false), POLL_MS);
        }
      }
    };
    void first(true);
    return () => {
      live = false;
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [fetchPage, generation]);

  const loadMore = useCallback(() => {
    if (cursor === null || busy.current) return;
    busy.current = true;
    setLoading(true);
    fetchPage(cursor)
      .then((page) => {
        pages.current += 1;
        setItems((known) => {
          const seen = new Set(known.map((t) => t.task_uuid));
          return [...known, ...page.items.filter((t) => !seen.has(t.task_uuid))];
        });
        setCursor(page.next_cursor);
      })
      .catch((e: unknown) => setError(e instanceof ApiError ? e : new ApiError(0, 'CLIENT', String(e))))
      .finally(() => {
        busy.current = false;
        setLoading(false);
      });
  }, [cursor, fetchPage]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { items, hasMore: cursor !== null, loading, error, loadMore, reload };
}
