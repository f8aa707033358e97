/**
 * OpenTelemetry tracing end to end: one task is one trace, carried through the database and the queue (never
 * through memory) to whichever worker process runs each step.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApiServer, type ApiServer } from '../../src/api/index.js';
import type { TaskerConfig } from '../../src/config/index.js';
import { RetryableError } from '../../src/errors.js';
import { currentTracing, setupTracing, type Tracing } from '../../src/observability/tracing.js';
import { createTask } from '../../src/orchestration/task-creator.js';
import { registerTemplate } from '../../src/orchestration/template-registry.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler, handlersFromModule } from '../../src/worker/handler.js';
import { createWorker } from '../../src/worker/worker.js';
import * as exampleHandlers from '../../examples/handlers.js';
import { startExampleWorker } from '../support/cli-process.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, testConfig, waitForTask, type Engine } from '../support/engine.js';

const ns = 'tracing';
const diamond = defineTemplate({ namespace: ns, name: 'diamond', version: '1.0.0' })
  .step('start', { handler: 'tracing.ok' })
  .step('left', { handler: 'tracing.ok', dependsOn: ['start'] })
  .step('right', { handler: 'tracing.ok', dependsOn: ['start'] })
  .step('end', { handler: 'tracing.ok', dependsOn: ['left', 'right'] })
  .build();
const flaky = defineTemplate({ namespace: ns, name: 'flaky', version: '1.0.0' })
  .step('first', { handler: 'tracing.ok' })
  .step('second', {
    handler: 'tracing.fails_once',
    dependsOn: ['first'],
    retry: { maxAttempts: 3, backoffBaseMs: 10, maxBackoffMs: 50 },
  })
  .build();
/** A namespace no worker serves: its step messages stay in the queue to be inspected. */
const idle = defineTemplate({ namespace: 'tracing_idle', name: 'single', version: '1.0.0' })
  .step('only', { handler: 'tracing.ok' })
  .build();

const handlers = [
  defineHandler('tracing.ok', (ctx) => ({ step: ctx.stepName })),
  defineHandler('tracing.fails_once', (ctx) => {
    if (ctx.attempt === 1) throw new RetryableError('first attempt fails', { code: 'FLAKY' });
    return { attempt: ctx.attempt };
  }),
];

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;

function attr(span: ReadableSpan, key: string): unknown {
  return span.attributes[key];
}

/** The finished spans of one task, after flushing. */
async function spansOf(
  tracing: Tracing,
  exporter: InMemorySpanExporter,
  taskUuid: string,
): Promise<{ create: ReadableSpan; steps: ReadableSpan[] }> {
  await tracing.forceFlush();
  const mine = exporter.getFinishedSpans().filter((s) => attr(s, 'tasker.task.uuid') === taskUuid);
  const creates = mine.filter((s) => s.name === 'task.create');
  expect(creates).toHaveLength(1);
  return { create: creates[0]!, steps: mine.filter((s) => s.name === 'step.execute') };
}

async function taskTraceColumns(
  db: TestDatabase,
  taskUuid: string,
): Promise<{ traceparent: string | null; tracestate: string | null }> {
  const res = await db.pool.query<{ traceparent: string | null; tracestate: string | null }>(
    'SELECT traceparent, tracestate FROM tasker.tasks WHERE task_uuid = $1',
    [taskUuid],
  );
  return res.rows[0]!;
}

async function queuedMessages(db: TestDatabase, taskUuid: string): Promise<Record<string, unknown>[]> {
  const res = await db.pool.query<{ message: Record<string, unknown> }>(
    `SELECT message FROM tasker.queue_messages WHERE message->>'task_uuid' = $1`,
    [taskUuid],
  );
  return res.rows.map((r) => r.message);
}

function enabledSettings(config: TaskerConfig, overrides: Partial<TaskerConfig['common']['telemetry']> = {}) {
  return { ...config.common.telemetry, enabled: true, ...overrides };
}

describe('tracing', () => {
  let db: TestDatabase;
  let engine: Engine;
  let exporter: InMemorySpanExporter;
  let tracing: Tracing;

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, { templates: [diamond, flaky], handlers });
    await registerTemplate(db.pool, idle);
  });
  afterEach(async () => {
    await tracing?.shutdown();
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  async function enable(overrides: Partial<TaskerConfig['common']['telemetry']> = {}): Promise<void> {
    exporter = new InMemorySpanExporter();
    tracing = await setupTracing(enabledSettings(engine.config, overrides), { exporter });
    expect(currentTracing()).toBe(tracing);
  }

  it('is off by default: nothing is recorded, the task and its messages carry no trace context', async () => {
    exporter = new InMemorySpanExporter();
    // The default settings (enabled = false) win over a supplied exporter.
    tracing = await setupTracing(engine.config.common.telemetry, { exporter });
    expect(engine.config.common.telemetry.enabled).toBe(false);
    expect(tracing.enabled).toBe(false);
    expect(tracing.tracer).toBeUndefined();

    const task = await engine.orchestrator.createTask({ namespace: ns, name: 'diamond', context: {} });
    expect((await waitForTask(db.pool, task.taskUuid)).state).toBe('complete');
    const waiting = await createTask(db.pool, { namespace: 'tracing_idle', name: 'single', context: {} });

    await tracing.forceFlush();
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(await taskTraceColumns(db, task.taskUuid)).toEqual({ traceparent: null, tracestate: null });
    const messages = await queuedMessages(db, waiting.taskUuid);
    expect(messages).toHaveLength(1);
    expect(Object.keys(messages[0]!).sort()).toEqual(['correlation_id', 'step_uuid', 'task_uuid']);
    const claimed = await db.pool.query<{ traceparent: string | null }>(
      `SELECT * FROM tasker.claim_steps('worker_tracing_idle_queue', 10, 30, 'test')`,
    );
    expect(claimed.rows.map((r) => r.traceparent)).toEqual([null]);
  });

  it('a 4-step task is one trace: every step.execute span is a child of task.create', async () => {
    await enable();
    const task = await engine.orchestrator.createTask({ namespace: ns, name: 'diamond', context: {} });
    expect((await waitForTask(db.pool, task.taskUuid)).state).toBe('complete');

    const { create, steps } = await spansOf(tracing, exporter, task.taskUuid);
    const { traceId, spanId } = create.spanContext();
    expect(create.kind).toBe(SpanKind.PRODUCER);
    expect(create.parentSpanContext).toBeUndefined(); // a new root: nothing to continue
    expect(create.resource.attributes['service.name']).toBe('tasker');
    expect(attr(create, 'tasker.namespace')).toBe(ns);
    expect(attr(create, 'tasker.template.name')).toBe('diamond');
    expect(attr(create, 'tasker.template.version')).toBe('1.0.0');
    expect(attr(create, 'tasker.steps_enqueued')).toBe(1);

    expect(steps.map((s) => attr(s, 'tasker.step.name')).sort()).toEqual(['end', 'left', 'right', 'start']);
    for (const s of steps) {
      expect(s.spanContext().traceId).toBe(traceId);
      expect(s.parentSpanContext?.spanId).toBe(spanId);
      expect(s.parentSpanContext?.isRemote).toBe(true); // parented from the claimed message, not from memory
      expect(s.kind).toBe(SpanKind.CONSUMER);
      expect(s.status.code).toBe(SpanStatusCode.UNSET);
      expect(attr(s, 'tasker.step.outcome')).toBe('success');
      expect(attr(s, 'tasker.step.attempt')).toBe(1);
      expect(attr(s, 'tasker.step.handler')).toBe('tracing.ok');
      expect(attr(s, 'tasker.namespace')).toBe(ns);
      expect(attr(s, 'tasker.worker.id')).toBe(engine.worker.id);
      expect(typeof attr(s, 'tasker.step.uuid')).toBe('string');
    }
    expect(new Set(steps.map((s) => attr(s, 'tasker.step.uuid'))).size).toBe(4);

    // The stored context names the task.create span.
    const columns = await taskTraceColumns(db, task.taskUuid);
    expect(columns.traceparent).toBe(`00-${traceId}-${spanId}-01`);
  });

  it('the trace context is in the task row, in each step message and in the claim result', async () => {
    await enable();
    const task = await createTask(db.pool, { namespace: 'tracing_idle', name: 'single', context: {} });
    const { create } = await spansOf(tracing, exporter, task.taskUuid);
    const expected = `00-${create.spanContext().traceId}-${create.spanContext().spanId}-01`;
    expect((await taskTraceColumns(db, task.taskUuid)).traceparent).toBe(expected);
    const messages = await queuedMessages(db, task.taskUuid);
    expect(messages.map((m) => m.traceparent)).toEqual([expected]);
    const claimed = await db.pool.query<{ task_uuid: string; traceparent: string | null }>(
      `SELECT * FROM tasker.claim_steps('worker_tracing_idle_queue', 10, 30, 'test')`,
    );
    expect(claimed.rows.map((r) => [r.task_uuid, r.traceparent])).toEqual([[task.taskUuid, expected]]);
  });

  it('a failed attempt is an error span; its retry is another span of the same trace', async () => {
    await enable();
    const task = await engine.orchestrator.createTask({ namespace: ns, name: 'flaky', context: {} });
    expect((await waitForTask(db.pool, task.taskUuid)).state).toBe('complete');

    const { create, steps } = await spansOf(tracing, exporter, task.taskUuid);
    const second = steps
      .filter((s) => attr(s, 'tasker.step.name') === 'second')
      .sort((a, b) => Number(attr(a, 'tasker.step.attempt')) - Number(attr(b, 'tasker.step.attempt')));
    expect(second.map((s) => attr(s, 'tasker.step.attempt'))).toEqual([1, 2]);
    const [failed, retried] = second as [ReadableSpan, ReadableSpan];
    expect(failed.status).toEqual({ code: SpanStatusCode.ERROR, message: 'FLAKY: first attempt fails' });
    expect(attr(failed, 'tasker.step.outcome')).toBe('retry');
    expect(attr(failed, 'tasker.error.code')).toBe('FLAKY');
    expect(attr(failed, 'tasker.error.retryable')).toBe(true);
    expect(failed.events.map((e) => e.name)).toEqual(['exception']);
    expect(retried.status.code).toBe(SpanStatusCode.UNSET);
    expect(attr(retried, 'tasker.step.outcome')).toBe('success');
    // The retry was re-enqueued by the orchestrator's retry timer: its message still carried the context.
    for (const s of steps) {
      expect(s.spanContext().traceId).toBe(create.spanContext().traceId);
      expect(s.parentSpanContext?.spanId).toBe(create.spanContext().spanId);
    }
    expect(steps).toHaveLength(3);
  });

  describe('over HTTP', () => {
    let api: ApiServer;
    beforeAll(async () => {
      api = await createApiServer({ config: testConfig(db.url), pool: db.pool });
    });
    afterAll(async () => {
      await api?.close();
    });

    async function post(headers: Record<string, string>): Promise<string> {
      const res = await api.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers,
        payload: { namespace: ns, name: 'diamond', context: {} },
      });
      expect(res.statusCode, res.body).toBe(201);
      return res.json<{ task_uuid: string }>().task_uuid;
    }

    it("continues the caller's trace from the traceparent header", async () => {
      await enable();
      const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
      const callerSpan = '00f067aa0ba902b7';
      const taskUuid = await post({
        traceparent: `00-${callerTrace}-${callerSpan}-01`,
        tracestate: 'vendor=abc',
      });
      expect((await waitForTask(db.pool, taskUuid)).state).toBe('complete');

      const { create, steps } = await spansOf(tracing, exporter, taskUuid);
      expect(create.spanContext().traceId).toBe(callerTrace);
      expect(create.parentSpanContext?.spanId).toBe(callerSpan);
      expect(steps).toHaveLength(4);
      for (const s of steps) {
        expect(s.spanContext().traceId).toBe(callerTrace);
        expect(s.parentSpanContext?.spanId).toBe(create.spanContext().spanId);
        expect(s.spanContext().traceState?.get('vendor')).toBe('abc');
      }
      expect(await taskTraceColumns(db, taskUuid)).toEqual({
        traceparent: `00-${callerTrace}-${create.spanContext().spanId}-01`,
        tracestate: 'vendor=abc',
      });
    });

    it('starts a new trace when the traceparent header is malformed', async () => {
      await enable();
      const taskUuid = await post({ traceparent: 'not-a-trace-context' });
      const { create } = await spansOf(tracing, exporter, taskUuid);
      expect(create.parentSpanContext).toBeUndefined();
      expect((await taskTraceColumns(db, taskUuid)).traceparent).toMatch(TRACEPARENT);
      expect((await waitForTask(db.pool, taskUuid)).state).toBe('complete');
    });

    it('honours the caller\'s "not sampled" decision: the task is traced nowhere', async () => {
      await enable();
      const taskUuid = await post({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4737-00f067aa0ba902b7-00' });
      expect((await waitForTask(db.pool, taskUuid)).state).toBe('complete');
      await tracing.forceFlush();
      expect(exporter.getFinishedSpans().filter((s) => attr(s, 'tasker.task.uuid') === taskUuid)).toEqual([]);
      // The decision travels with the task (flags 00), so no worker starts a trace of its own.
      expect((await taskTraceColumns(db, taskUuid)).traceparent).toMatch(
        /^00-4bf92f3577b34da6a3ce929d0e0e4737-.*-00$/,
      );
    });
  });

  it('sample_ratio 0: tasks are created unsampled and none of their steps is recorded', async () => {
    await enable({ sample_ratio: 0 });
    const task = await engine.orchestrator.createTask({ namespace: ns, name: 'diamond', context: {} });
    expect((await waitForTask(db.pool, task.taskUuid)).state).toBe('complete');
    await tracing.forceFlush();
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect((await taskTraceColumns(db, task.taskUuid)).traceparent).toMatch(/-00$/);
  });

  it('exporter "log" writes each span as a log line', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString('utf8').split('\n')) {
          if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        }
        done();
      },
    });
    tracing = await setupTracing(enabledSettings(engine.config, { exporter: 'log' }), {
      logger: pino({ level: 'info' }, sink),
    });
    const task = await createTask(db.pool, { namespace: 'tracing_idle', name: 'single', context: {} });
    await tracing.forceFlush();
    const spans = lines.filter((l) => l.msg === 'span').map((l) => l.span as Record<string, unknown>);
    expect(spans).toHaveLength(1);
    const traceparent = (await taskTraceColumns(db, task.taskUuid)).traceparent!;
    expect(spans[0]).toMatchObject({
      name: 'task.create',
      trace_id: TRACEPARENT.exec(traceparent)![1],
      span_id: TRACEPARENT.exec(traceparent)![2],
      attributes: { 'tasker.task.uuid': task.taskUuid, 'tasker.namespace': 'tracing_idle' },
    });
    expect(typeof spans[0]!.duration_ms).toBe('number');
  });

  it("sends spans through the application's own provider when given one, and leaves it running", async () => {
    const appExporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(appExporter)] });
    tracing = await setupTracing(enabledSettings(engine.config), { provider });
    const task = await createTask(db.pool, { namespace: 'tracing_idle', name: 'single', context: {} });
    await tracing.shutdown();
    expect(currentTracing().enabled).toBe(false); // shutdown uninstalls it
    const spans = appExporter.getFinishedSpans();
    expect(spans.map((s) => [s.name, attr(s, 'tasker.task.uuid')])).toEqual([['task.create', task.taskUuid]]);
    // Still the application's: spans made after Tasker's shutdown are exported.
    provider.getTracer('app').startSpan('after').end();
    expect(appExporter.getFinishedSpans().map((s) => s.name)).toEqual(['task.create', 'after']);
    await provider.shutdown();
  });

  describe('across processes', () => {
    /** An OTLP/HTTP collector: the spans a child process exports arrive here as OTLP JSON. */
    let collector: Server;
    const received: OtlpSpan[] = [];
    let child: ChildProcess | undefined;

    interface OtlpSpan {
      traceId: string;
      spanId: string;
      parentSpanId?: string;
      name: string;
      attributes: { key: string; value: { stringValue?: string; intValue?: string | number } }[];
      serviceName: string | undefined;
    }
    interface OtlpExport {
      resourceSpans: {
        resource: { attributes: { key: string; value: { stringValue?: string } }[] };
        scopeSpans: { spans: Omit<OtlpSpan, 'serviceName'>[] }[];
      }[];
    }

    function otlpAttr(span: OtlpSpan, key: string): string | number | undefined {
      const v = span.attributes.find((a) => a.key === key)?.value;
      return v?.stringValue ?? (v?.intValue === undefined ? undefined : Number(v.intValue));
    }

    beforeAll(async () => {
      collector = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          if (req.url === '/v1/traces') {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport;
            for (const rs of body.resourceSpans) {
              const serviceName = rs.resource.attributes.find((a) => a.key === 'service.name')?.value
                .stringValue;
              for (const ss of rs.scopeSpans) for (const s of ss.spans) received.push({ ...s, serviceName });
            }
          }
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        });
      });
      await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    });
    afterAll(async () => {
      child?.kill('SIGKILL');
      await new Promise((r) => collector.close(r));
    });

    it('steps run by a worker in another process (and by a second worker) join the task trace', async () => {
      await enable();
      const port = (collector.address() as AddressInfo).port;
      // `tasker worker` from the CLI, configured only through the environment as an operator would.
      child = startExampleWorker({
        ...process.env,
        DATABASE_URL: db.url,
        TASKER_ENV: 'test',
        TASKER_TRACING_ENABLED: 'true',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_SERVICE_NAME: 'tasker-worker-child',
      });
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));

      // The child registers the example templates at start-up; retry until it has.
      const create = async (): Promise<string> => {
        for (const deadline = Date.now() + 30_000; ;) {
          try {
            return (
              await engine.orchestrator.createTask({
                namespace: 'examples',
                name: 'diamond_workflow',
                context: { even_number: 2 },
              })
            ).taskUuid;
          } catch (e) {
            if ((e as { code?: string }).code !== 'TEMPLATE_NOT_FOUND' || Date.now() > deadline) throw e;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      };

      // Only the child serves `examples` at first: every step of this task runs in the other process.
      const first = await create();
      expect((await waitForTask(db.pool, first, 60_000)).state).toBe('complete');

      // Then a second worker (in this process) competes with the child for the same queue.
      const local = createWorker({
        config: engine.config,
        namespaces: ['examples'],
        handlers: handlersFromModule(exampleHandlers),
      });
      await local.start();
      const more: string[] = [];
      try {
        for (let i = 0; i < 6; i++) more.push(await create());
        for (const t of more) expect((await waitForTask(db.pool, t, 60_000)).state).toBe('complete');
      } finally {
        await local.stop();
      }

      // A graceful stop exports the child's last spans.
      child.kill('SIGTERM');
      expect(await exited, stderr).toBe(0);
      await tracing.forceFlush();
      const inProcess = exporter.getFinishedSpans();

      for (const taskUuid of [first, ...more]) {
        const creates = inProcess.filter(
          (s) => s.name === 'task.create' && attr(s, 'tasker.task.uuid') === taskUuid,
        );
        expect(creates).toHaveLength(1);
        const { traceId, spanId } = creates[0]!.spanContext();
        const inChild = received.filter(
          (s) => s.name === 'step.execute' && otlpAttr(s, 'tasker.task.uuid') === taskUuid,
        );
        const inHere = inProcess.filter(
          (s) => s.name === 'step.execute' && attr(s, 'tasker.task.uuid') === taskUuid,
        );
        expect(inChild.length + inHere.length, taskUuid).toBe(4);
        for (const s of inChild) {
          expect(s.traceId).toBe(traceId);
          expect(s.parentSpanId).toBe(spanId);
          expect(s.serviceName).toBe('tasker-worker-child');
        }
        for (const s of inHere) {
          expect(s.spanContext().traceId).toBe(traceId);
          expect(s.parentSpanContext?.spanId).toBe(spanId);
          expect(attr(s, 'tasker.worker.id')).toBe(local.id);
        }
        if (taskUuid === first) expect(inChild).toHaveLength(4);
      }
    });
  });
});
