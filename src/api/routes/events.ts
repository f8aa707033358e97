/**
 * `GET /v1/tasks/{task_uuid}/events`: the task's transitions as Server-Sent Events.
 *
 * Delivery is at-least-once. Each event's `id` is the transition `key`; on every wake-up (a notification on
 * the task-events channel, a listener reconnect, or the safety poll) the stream re-reads the task's trail and
 * sends what it has not sent yet, so a transition committed late (its `created_at` is its transaction's start,
 * not its commit) is still delivered, possibly after newer ones. A reconnecting client sends `Last-Event-ID`;
 * the stream then re-sends everything from 10 s before that event on, and the client drops ids it has seen.
 */
import type { ServerResponse } from 'node:http';
import { FINISHED_TASK_STATES, type TaskState } from '../../state/index.js';
import { requireTask, taskTransitions, type TransitionView } from '../../orchestration/operations.js';
import { defineRoute, type ApiContext, type ApiRoute } from '../route.js';
import { errorBody, taskParams } from '../schemas.js';
import { transitionBody } from '../views.js';

/** How far before the `Last-Event-ID` event a resumed stream starts re-sending (commit-order slack). */
export const RESUME_MARGIN_MS = 10_000;
/** Comment lines keep proxies and clients from timing out an idle stream. */
export const KEEP_ALIVE_MS = 15_000;
/** Safety poll while notifications are on (they may be lost across a listener reconnect). */
const SAFETY_POLL_MS = 5_000;
/** Poll interval when notifications are disabled in configuration. */
const POLL_ONLY_MS = 1_000;
/** Reconnect delay suggested to clients (`retry:` field). */
const CLIENT_RETRY_MS = 2_000;

/** Tuning of event streams (tests shorten the intervals). */
export interface EventStreamOptions {
  keepAliveMs?: number;
  pollIntervalMs?: number;
}

function lastEventId(header: string | string[] | undefined): string | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

/** Writes a chunk, waiting for the socket to drain when its buffer is full. Resolves false once closed. */
function write(res: ServerResponse, chunk: string): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return Promise.resolve(false);
  if (res.write(chunk)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

function frame(event: string, data: unknown, id?: string): string {
  // JSON.stringify never emits raw newlines, so each payload is exactly one `data:` line.
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The latest state the task's own transitions reached (the trail is oldest first). */
function latestTaskState(trail: readonly TransitionView[]): TaskState | undefined {
  let latest: TransitionView | undefined;
  for (const t of trail) if (t.entity === 'task' && (!latest || t.sortKey > latest.sortKey)) latest = t;
  return latest?.toState as TaskState | undefined;
}

/**
 * Decides which transitions of the first read a resumed stream treats as already delivered: everything
 * older than the margin before the `Last-Event-ID` event, and that event itself. An unknown id resends all.
 */
function alreadyDelivered(trail: readonly TransitionView[], lastId: string | undefined): Set<string> {
  const sent = new Set<string>();
  if (lastId === undefined) return sent;
  const anchor = trail.find((t) => t.key === lastId);
  if (!anchor) return sent;
  const cutoff = anchor.createdAt.getTime() - RESUME_MARGIN_MS;
  sent.add(anchor.key);
  for (const t of trail) if (t.createdAt.getTime() < cutoff) sent.add(t.key);
  return sent;
}

/** How often a stream re-reads without a notification, and how often it sends a keep-alive comment. */
interface StreamTiming {
  pollMs: number;
  keepAliveMs: number;
}

/**
 * Writes a task's transitions to a hijacked response as Server-Sent Events until the task finishes, the client
 * goes away or the server shuts down. Re-reads the trail on each notification and poll; a failed read keeps the
 * stream and is tried again.
 */
async function serveEventStream(
  ctx: ApiContext,
  res: ServerResponse,
  taskUuid: string,
  resumeId: string | undefined,
  shutdown: AbortSignal,
  { pollMs, keepAliveMs }: StreamTiming,
): Promise<void> {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    // Tell buffering proxies (nginx) to pass events through at once.
    'x-accel-buffering': 'no',
  });

  let closed = false;
  let dirty = true;
  let signal: (() => void) | undefined;
  const wake = (): void => {
    dirty = true;
    signal?.();
  };
  const stop = (): void => {
    closed = true;
    signal?.();
  };
  res.on('close', stop);
  shutdown.addEventListener('abort', stop);
  const unwatch = await ctx.events.watch(taskUuid, wake);
  const poll = setInterval(wake, pollMs);
  const keepAlive = setInterval(() => {
    if (!closed) void write(res, ': keep-alive\n\n');
  }, keepAliveMs);

  try {
    if (!(await write(res, `retry: ${CLIENT_RETRY_MS}\n\n`))) return;
    let sent: Set<string> | undefined;
    while (!closed) {
      if (!dirty) {
        await new Promise<void>((resolve) => {
          signal = resolve;
        });
        signal = undefined;
        continue;
      }
      dirty = false;
      let trail: TransitionView[];
      try {
        trail = await taskTransitions(ctx.pool, taskUuid);
      } catch (e) {
        // Keep the stream; the next wake-up or poll tries again.
        ctx.logger.warn({ err: e, taskUuid }, 'event stream could not read transitions');
        continue;
      }
      sent ??= alreadyDelivered(trail, resumeId);
      for (const t of trail) {
        if (closed) break;
        if (sent.has(t.key)) continue;
        sent.add(t.key);
        if (!(await write(res, frame('transition', transitionBody(t), t.key)))) closed = true;
      }
      const state = latestTaskState(trail);
      if (!closed && state !== undefined && FINISHED_TASK_STATES.has(state)) {
        await write(res, frame('end', { state }));
        break;
      }
    }
  } finally {
    clearInterval(poll);
    clearInterval(keepAlive);
    unwatch();
    shutdown.removeEventListener('abort', stop);
    res.off('close', stop);
    if (!res.writableEnded) res.end();
  }
}

/** The event stream route. */
export function eventRoutes(
  ctx: ApiContext,
  shutdown: AbortSignal,
  options: EventStreamOptions = {},
): ApiRoute[] {
  const keepAliveMs = options.keepAliveMs ?? KEEP_ALIVE_MS;
  const pollMs =
    options.pollIntervalMs ??
    (ctx.config.common.queues.notifications_enabled ? SAFETY_POLL_MS : POLL_ONLY_MS);
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/tasks/:task_uuid/events',
      operationId: 'streamTaskEvents',
      summary: "Server-Sent Events of the task's transitions, ending when the task finishes.",
      description:
        'Each `transition` event has `id` = the transition key and the transition as `data`; the stream ends ' +
        'with an `end` event `{ "state": ... }` once the task is finished (complete, error, cancelled, ' +
        'resolved_manually). Delivery is at-least-once: reconnect with `Last-Event-ID` and drop ids already seen.',
      tag: 'tasks',
      permission: 'tasks:read',
      params: taskParams,
      streaming: true,
      responses: [
        {
          status: 200,
          description: 'An event stream (`event: transition` ..., then `event: end`).',
          contentType: 'text/event-stream',
        },
        { status: 404, description: 'No such task (`TASK_NOT_FOUND`).', schema: errorBody },
      ],
      async handle({ params, request, reply }) {
        const taskUuid = params.task_uuid;
        // Fail with a normal JSON error before committing to a stream.
        await requireTask(ctx.pool, taskUuid);
        const resumeId = lastEventId(request.headers['last-event-id']);

        reply.hijack();
        await serveEventStream(ctx, reply.raw, taskUuid, resumeId, shutdown, { pollMs, keepAliveMs });
      },
    }),
  ];
}
