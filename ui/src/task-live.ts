/**
 * A task kept live: loaded once, then followed over its event stream. Each transition recolours its step (or
 * the task) at once; the full task (results, errors, counts) is re-read at most once a second while events
 * arrive, and once more when the stream ends. After an operator action the stream is reopened, since an action
 * can reopen a finished task.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type Api } from './api.js';
import type { TaskBody, TransitionBody } from './api-types.js';
import { followEvents } from './sse.js';

/** Applies transitions to a task: the latest state of each step and of the task itself. */
export function applyTransitions(task: TaskBody, transitions: readonly TransitionBody[]): TaskBody {
  if (transitions.length === 0) return task;
  const stepStates = new Map<string, string>();
  let taskState: string | undefined;
  for (const t of transitions) {
    if (t.entity === 'task') taskState = t.to_state;
    else if (t.step_uuid !== null) stepStates.set(t.step_uuid, t.to_state);
  }
  const steps = task.steps.map((s) => {
    const state = stepStates.get(s.step_uuid);
    return state === undefined || state === s.state ? s : { ...s, state: state as typeof s.state };
  });
  return { ...task, state: (taskState ?? task.state) as TaskBody['state'], steps };
}

/** Merges newly received transitions into the known ones, dropping repeats (delivery is at-least-once). */
export function mergeTransitions(
  known: readonly TransitionBody[],
  seen: Set<string>,
  incoming: readonly TransitionBody[],
): TransitionBody[] {
  const fresh = incoming.filter((t) => {
    if (seen.has(t.key)) return false;
    seen.add(t.key);
    return true;
  });
  return fresh.length === 0 ? [...known] : [...known, ...fresh];
}

export interface LiveTask {
  task: TaskBody | undefined;
  transitions: TransitionBody[];
  error: ApiError | undefined;
  /** True while the event stream is connected and the task can still change. */
  streaming: boolean;
  /** Re-reads the task and reopens the stream (after an operator action). */
  refresh: () => void;
}

const REREAD_MS = 1000;

export function useLiveTask(api: Api, taskUuid: string): LiveTask {
  const [task, setTask] = useState<TaskBody | undefined>(undefined);
  const [transitions, setTransitions] = useState<TransitionBody[]>([]);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [streaming, setStreaming] = useState(false);
  const [generation, setGeneration] = useState(0);
  const seen = useRef(new Set<string>());

  useEffect(() => {
    seen.current = new Set();
    setTransitions([]);
    setTask(undefined);
    setError(undefined);
  }, [taskUuid]);

  useEffect(() => {
    const abort = new AbortController();
    let pending: TransitionBody[] = [];
    let flushTimer: ReturnType<typeof setTimeout> | undefined;
    let rereadTimer: ReturnType<typeof setTimeout> | undefined;
    const reread = async () => {
      rereadTimer = undefined;
      try {
        const fresh = await api.getTask(taskUuid);
        if (!abort.signal.aborted) setTask(fresh);
      } catch (e) {
        if (!abort.signal.aborted && e instanceof ApiError) setError(e);
      }
    };
    // Events are applied in small batches: the history of a 1,000-step task arrives as thousands of events.
    const flush = () => {
      flushTimer = undefined;
      const batch = pending;
      pending = [];
      setTransitions((known) => mergeTransitions(known, seen.current, batch));
      setTask((t) => (t ? applyTransitions(t, batch) : t));
      rereadTimer ??= setTimeout(() => void reread(), REREAD_MS);
    };
    void (async () => {
      await reread();
      setStreaming(true);
      await followEvents({
        signal: abort.signal,
        open: (lastId, signal) => api.openEvents(taskUuid, lastId, signal),
        onEvent: (event) => {
          if (event.event === 'transition') {
            pending.push(JSON.parse(event.data) as TransitionBody);
            flushTimer ??= setTimeout(flush, 50);
          } else if (event.event === 'end') {
            if (flushTimer !== undefined) clearTimeout(flushTimer);
            flush();
            if (rereadTimer !== undefined) clearTimeout(rereadTimer);
            void reread();
          }
        },
        onError: (e) => {
          if (e instanceof ApiError && e.status === 404) abort.abort();
        },
      });
      if (!abort.signal.aborted) setStreaming(false);
    })();
    return () => {
      abort.abort();
      if (flushTimer !== undefined) clearTimeout(flushTimer);
      if (rereadTimer !== undefined) clearTimeout(rereadTimer);
    };
  }, [api, taskUuid, generation]);

  const refresh = useCallback(() => setGeneration((g) => g + 1), []);
  return { task, transitions, error, streaming, refresh };
}
