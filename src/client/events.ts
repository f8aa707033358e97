/**
 * Task event streams over Server-Sent Events: reading transitions as they happen, resuming a dropped connection
 * with `Last-Event-ID` without repeating events, and waiting for a task to finish on top of that.
 */
import type { EventStreamEndBody, TaskBody, TransitionBody } from '../api/schemas.js';
import {
  TaskerAbortError,
  TaskerApiError,
  TaskerNetworkError,
  TaskerTimeoutError,
  TaskerUnavailableError,
  type RequestInfo,
} from './errors.js';
import { sleep } from './retry.js';
import { readSseStream, SseParser } from './sse.js';
import { abortError, final, isFinal, throwIfAborted, type Transport } from './transport.js';
import type { CallOptions, EventsOptions, TaskEvent, WaitForTaskOptions } from './types.js';

const DEFAULT_SSE_RETRY_MS = 1000;

/** What {@link waitForTask} reads: the client's event stream and task read. */
export interface TaskReader {
  events(taskUuid: string, options: EventsOptions): AsyncGenerator<TaskEvent, void, undefined>;
  getTask(taskUuid: string, options: CallOptions): Promise<TaskBody>;
}

/**
 * The task's transitions as they happen, then one `end` event when it finishes (the iterator then ends).
 * Starts with every transition so far (or those after `lastEventId`). A dropped connection is resumed with
 * `Last-Event-ID`; events seen before are skipped, so each transition is yielded once. Breaking out of the
 * loop closes the connection.
 */
export async function* taskEvents(
  transport: Transport,
  taskUuid: string,
  options: EventsOptions,
): AsyncGenerator<TaskEvent, void, undefined> {
  const maxReconnects = options.maxReconnectAttempts ?? 10;
  const request: RequestInfo = { method: 'GET', path: `/v1/tasks/${taskUuid}/events` };
  const parser = new SseParser();
  const seen = new Set<string>();
  let lastId = options.lastEventId;
  let failures = 0;
  for (;;) {
    throwIfAborted(options.signal, request);
    let lastError: unknown;
    // One controller per connection: aborted when the caller aborts, the consumer stops, or the stream fails.
    const connection = new AbortController();
    const onAbort = (): void => connection.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const response = await transport.openStream(taskUuid, lastId, connection);
      if (response.body === null) {
        throw new TaskerNetworkError('event stream response has no body', request);
      }
      for await (const sse of readSseStream(response.body, parser)) {
        if (sse.event === 'transition') {
          const id = sse.id ?? '';
          // Resumed streams replay a margin of earlier events; each one is delivered once.
          if (id !== '' && seen.has(id)) continue;
          const transition = parseEventData<TransitionBody>(sse.data, request);
          const key = id !== '' ? id : transition.key;
          seen.add(key);
          lastId = key;
          failures = 0;
          yield { type: 'transition', id: key, transition };
        } else if (sse.event === 'end') {
          const end = parseEventData<EventStreamEndBody>(sse.data, request);
          yield { type: 'end', state: end.state };
          return;
        }
        // Other event types are ignored, so the server can add some without breaking clients.
      }
      lastError = new TaskerNetworkError('event stream ended before the task finished', request);
    } catch (e) {
      if (options.signal?.aborted) throw abortError(options.signal, request);
      if (!isReconnectable(e)) throw e;
      lastError = e;
    } finally {
      // Closes the connection when the consumer stops early or the stream failed half-way.
      options.signal?.removeEventListener('abort', onAbort);
      connection.abort();
    }
    failures += 1;
    if (failures > maxReconnects) throw lastError;
    const base = parser.retryMs ?? DEFAULT_SSE_RETRY_MS;
    const retryAfter = lastError instanceof TaskerApiError ? lastError.retryAfterMs : undefined;
    const delay = Math.max(
      retryAfter ?? 0,
      Math.min(transport.retry.maxDelayMs, base * 2 ** Math.max(0, failures - 1)) * (0.5 + Math.random() / 2),
    );
    try {
      await sleep(delay, options.signal);
    } catch {
      throw abortError(options.signal, request);
    }
  }
}

/**
 * Waits until the task finishes (complete, error, cancelled, resolved manually) and returns it as read
 * afterwards. Built on `events`: `onTransition` sees every transition and `onStep` every step
 * transition, in order, each once, across reconnections. Rejects with {@link TaskerTimeoutError} after
 * `timeoutMs`, with {@link TaskerAbortError} when `signal` aborts.
 */
export async function waitForTask(
  client: TaskReader,
  taskUuid: string,
  options: WaitForTaskOptions,
): Promise<TaskBody> {
  const controller = new AbortController();
  let timedOut = false;
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          controller.abort();
        }, options.timeoutMs);
  const onAbort = (): void => controller.abort(options.signal?.reason);
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const events = client.events(taskUuid, {
      signal: controller.signal,
      ...(options.lastEventId === undefined ? {} : { lastEventId: options.lastEventId }),
      ...(options.maxReconnectAttempts === undefined
        ? {}
        : { maxReconnectAttempts: options.maxReconnectAttempts }),
    });
    for await (const event of events) {
      if (event.type === 'end') return await client.getTask(taskUuid, { signal: controller.signal });
      await options.onTransition?.(event.transition);
      if (event.transition.entity === 'step') await options.onStep?.(event.transition);
    }
    throw new TaskerNetworkError('event stream ended without an end event', {
      method: 'GET',
      path: `/v1/tasks/${taskUuid}/events`,
    });
  } catch (e) {
    if (timedOut) {
      throw new TaskerTimeoutError(
        `task ${taskUuid} did not finish within ${options.timeoutMs} ms`,
        options.timeoutMs ?? 0,
        {
          cause: e,
        },
      );
    }
    throw e;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

function parseEventData<T>(data: string, request: RequestInfo): T {
  try {
    return JSON.parse(data) as T;
  } catch (e) {
    throw final(
      new TaskerNetworkError('the server sent an event whose data is not JSON', request, { cause: e }),
    );
  }
}

/** Connection failures and "try later" answers end one connection of an event stream, not the stream. */
function isReconnectable(e: unknown): boolean {
  if (isFinal(e)) return false;
  if (e instanceof TaskerUnavailableError || e instanceof TaskerNetworkError) return true;
  // A body that breaks off half-way surfaces as a plain error (e.g. "terminated", ECONNRESET) from the reader.
  return (
    !(e instanceof TaskerApiError) &&
    !(e instanceof TaskerAbortError) &&
    !(e instanceof SyntaxError) &&
    e instanceof Error
  );
}
