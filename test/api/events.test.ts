import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  taskBody,
  transitionBody,
  transitionListBody,
  type ApiServer,
  type TransitionBody,
} from '../../src/api/index.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, waitForTask, type Engine } from '../support/engine.js';
import { startApi } from './helpers.js';

const ns = 'api_events';
const diamond = defineTemplate({ namespace: ns, name: 'diamond', version: '1.0.0' })
  .step('top', { handler: 'work' })
  .step('left', { handler: 'work', dependsOn: ['top'] })
  .step('right', { handler: 'work', dependsOn: ['top'] })
  .step('bottom', { handler: 'work', dependsOn: ['left', 'right'] })
  .build();
const gated = defineTemplate({ namespace: ns, name: 'gated', version: '1.0.0' })
  .step('before', { handler: 'work' })
  .step('gate', { handler: 'gate', dependsOn: ['before'] })
  .step('after1', { handler: 'work', dependsOn: ['gate'] })
  .step('after2', { handler: 'work', dependsOn: ['after1'] })
  .build();

/** Gates by task uuid: the `gate` step of a task waits until its gate is opened. */
const gates = new Map<string, { promise: Promise<void>; open: () => void }>();
function gateFor(taskUuid: string): { promise: Promise<void>; open: () => void } {
  let gate = gates.get(taskUuid);
  if (!gate) {
    let open!: () => void;
    const promise = new Promise<void>((resolve) => {
      open = resolve;
    });
    gate = { promise, open };
    gates.set(taskUuid, gate);
  }
  return gate;
}

const handlers = [
  defineHandler('work', async (ctx) => {
    await new Promise((r) => setTimeout(r, 20));
    return { step: ctx.stepName };
  }),
  defineHandler('gate', async (ctx) => {
    await gateFor(ctx.taskUuid).promise;
    return { opened: true };
  }),
];

interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/** A minimal SSE reader over fetch: yields parsed events until the server ends the stream or `stop()`. */
function openStream(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const events: SseEvent[] = [];
  const comments: string[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  const done = (async () => {
    const res = await fetch(url, {
      headers: { accept: 'text/event-stream', ...headers },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let sep: number;
        while ((sep = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, sep);
          buffer = buffer.slice(sep + 2);
          const ev: SseEvent = { event: 'message', data: '' };
          let isEvent = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line);
            else if (line.startsWith('id: ')) ev.id = line.slice(4);
            else if (line.startsWith('event: ')) {
              ev.event = line.slice(7);
              isEvent = true;
            } else if (line.startsWith('data: ')) ev.data += line.slice(6);
          }
          if (isEvent) events.push(ev);
          wake?.();
        }
      }
    } catch (e) {
      if (!controller.signal.aborted) throw e;
    }
    ended = true;
    wake?.();
  })();
  return {
    events,
    comments,
    get ended() {
      return ended;
    },
    done,
    /** Waits until `predicate` holds over the events received so far. */
    async until(predicate: (events: SseEvent[]) => boolean, timeoutMs = 20_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(events)) {
        if (ended) throw new Error(`stream ended first: ${JSON.stringify(events.map((e) => e.event))}`);
        if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(events)}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 200);
        });
      }
    },
    stop() {
      controller.abort();
    },
  };
}

function transitionsOf(events: SseEvent[]): TransitionBody[] {
  return events.filter((e) => e.event === 'transition').map((e) => transitionBody.parse(JSON.parse(e.data)));
}

/** Per entity, transitions must arrive in sort_key order. */
function expectPerEntityOrder(transitions: TransitionBody[]): void {
  const last = new Map<string, number>();
  for (const t of transitions) {
    const entity = t.entity === 'task' ? `task:${t.task_uuid}` : `step:${t.step_uuid}`;
    expect(t.sort_key, t.key).toBeGreaterThan(last.get(entity) ?? -1);
    last.set(entity, t.sort_key);
  }
}

describe('GET /v1/tasks/{task_uuid}/events', () => {
  let db: TestDatabase;
  let engine: Engine;
  let api: ApiServer;
  let base: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, { templates: [diamond, gated], handlers });
    api = await startApi(db, {}, { eventStreams: { keepAliveMs: 200 } });
    base = (await api.listen()).url;
  });

  afterAll(async () => {
    for (const g of gates.values()) g.open();
    await api?.close();
    await engine?.stop();
    await db?.drop();
  });

  async function createTask(name: string): Promise<string> {
    const res = await fetch(`${base}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ namespace: ns, name, context: { id: randomUUID() } }),
    });
    expect(res.status).toBe(201);
    return taskBody.parse(await res.json()).task_uuid;
  }

  async function trail(taskUuid: string): Promise<TransitionBody[]> {
    const res = await fetch(`${base}/v1/tasks/${taskUuid}/transitions`);
    return transitionListBody.parse(await res.json()).items;
  }

  it('delivers every transition of a running task in order, then `end`, then closes', async () => {
    const taskUuid = await createTask('diamond');
    const started = Date.now();
    const stream = openStream(`${base}/v1/tasks/${taskUuid}/events`);
    await stream.done;
    // Driven by notifications: far quicker than the 5 s safety poll would allow for this many wake-ups.
    expect(Date.now() - started).toBeLessThan(4_000);

    const last = stream.events.at(-1)!;
    expect(last.event).toBe('end');
    expect(JSON.parse(last.data)).toEqual({ state: 'complete' });
    expect(stream.events.filter((e) => e.event === 'end')).toHaveLength(1);

    const received = transitionsOf(stream.events);
    expect(stream.events.filter((e) => e.event === 'transition').map((e) => e.id)).toEqual(
      received.map((t) => t.key),
    );
    expect(new Set(received.map((t) => t.key)).size).toBe(received.length);
    expectPerEntityOrder(received);

    const stored = await trail(taskUuid);
    expect(received.map((t) => t.key).sort()).toEqual(stored.map((t) => t.key).sort());
    // Every step reached complete and the task's final transition is among the events.
    for (const name of ['top', 'left', 'right', 'bottom']) {
      expect(received.some((t) => t.step_name === name && t.to_state === 'complete')).toBe(true);
    }
    expect(received.filter((t) => t.entity === 'task').at(-1)?.to_state).toBe('complete');
  });

  it('replays a finished task and ends at once', async () => {
    const taskUuid = await createTask('diamond');
    await waitForTask(db.pool, taskUuid);
    const stream = openStream(`${base}/v1/tasks/${taskUuid}/events`);
    await stream.done;
    const stored = await trail(taskUuid);
    expect(transitionsOf(stream.events).map((t) => t.key)).toEqual(stored.map((t) => t.key));
    expect(stream.events.at(-1)?.event).toBe('end');
  });

  it('resumes after a dropped connection with Last-Event-ID without missing events', async () => {
    const taskUuid = await createTask('gated');
    const first = openStream(`${base}/v1/tasks/${taskUuid}/events`);
    await first.until((events) =>
      transitionsOf(events).some((t) => t.step_name === 'gate' && t.to_state === 'in_progress'),
    );
    // Keep-alive comments flow while nothing happens (200 ms in this test).
    await first.until(() => first.comments.some((c) => c.includes('keep-alive')));
    first.stop();
    await first.done;
    const seen = transitionsOf(first.events);
    const lastId = seen.at(-1)!.key;

    // Progress while nobody is listening.
    gateFor(taskUuid).open();
    await waitForTask(db.pool, taskUuid);

    const second = openStream(`${base}/v1/tasks/${taskUuid}/events`, { 'last-event-id': lastId });
    await second.done;
    expect(second.events.at(-1)?.event).toBe('end');
    const resumed = transitionsOf(second.events);
    expect(resumed.map((t) => t.key)).not.toContain(lastId);
    expectPerEntityOrder(resumed);

    const union = new Set([...seen, ...resumed].map((t) => t.key));
    const stored = await trail(taskUuid);
    expect([...union].sort()).toEqual(stored.map((t) => t.key).sort());
    // Everything after the resume point is in the second stream (the overlap before it is the safety margin).
    const lastIndex = stored.findIndex((t) => t.key === lastId);
    for (const t of stored.slice(lastIndex + 1)) expect(resumed.map((r) => r.key)).toContain(t.key);
  });

  it('an unknown Last-Event-ID replays everything', async () => {
    const taskUuid = await createTask('diamond');
    await waitForTask(db.pool, taskUuid);
    const stream = openStream(`${base}/v1/tasks/${taskUuid}/events`, { 'last-event-id': 'step:nope:1' });
    await stream.done;
    expect(transitionsOf(stream.events)).toHaveLength((await trail(taskUuid)).length);
  });

  it('answers 404 for an unknown task and 400 for a bad uuid before streaming', async () => {
    const missing = await fetch(`${base}/v1/tasks/${randomUUID()}/events`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('TASK_NOT_FOUND');
    const bad = await fetch(`${base}/v1/tasks/nope/events`);
    expect(bad.status).toBe(400);
  });

  it('closing the server ends open streams', async () => {
    const other = await startApi(db);
    const url = (await other.listen()).url;
    const taskUuid = await createTask('gated');
    const stream = openStream(`${url}/v1/tasks/${taskUuid}/events`);
    await stream.until((events) => events.length > 0);
    const started = Date.now();
    await other.close();
    await stream.done;
    expect(stream.ended).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
    gateFor(taskUuid).open();
  });
});
