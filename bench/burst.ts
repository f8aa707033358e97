/**
 * The 10x-burst run of `npm run bench` (issue 4): 20,000 linear-2 tasks (40,000 steps; 2,000 with `--quick`)
 * created as fast as the database takes them, ten times the throughput run's 2,000. Two scenarios, each on a
 * fresh database:
 *
 * - *queue filled first*: the tasks are created while no orchestrator or worker runs, so the whole burst waits
 *   in the queue; then the engine starts and drains it.
 * - *engine running*: an orchestrator and a worker run in this process while the tasks are created.
 *
 * Measured per scenario: time to fill (all creations acknowledged), time to drain (until every task is
 * complete), drain throughput, end-to-end task latency from the database (`created_at` to `completed_at`), peak
 * RSS and heap (`process.memoryUsage()` every 100 ms), the deepest the step and result queues got, and every
 * in-process channel's high-water mark. A channel above its capacity fails the run: bounded means bounded.
 */
import pg from 'pg';
import type { BoundedChannel } from '../src/channels/index.js';
import { loadConfig, type DeepPartial, type TaskerConfig } from '../src/config/index.js';
import { QUEUES, workerQueueName } from '../src/contract/names.js';
import { createOrchestrator, type Orchestrator } from '../src/orchestration/orchestrator.js';
import { defineTemplate } from '../src/templates/index.js';
import { defineHandler } from '../src/worker/handler.js';
import { createWorker, type Worker } from '../src/worker/worker.js';

const ns = 'bench_burst';
const template = defineTemplate({ namespace: ns, name: 'linear2', version: '1.0.0' })
  .step('s1', { handler: 'noop' })
  .step('s2', { handler: 'noop', dependsOn: ['s1'] })
  .build();
const STEPS_PER_TASK = 2;
const LAST_STEP = 's2';
const handlers = [defineHandler('noop', () => ({ ok: true }))];
/** Task creations in flight at once (the orchestrator's pool has 20 connections; this keeps them all busy). */
const CREATORS = 64;

export interface BurstOptions {
  tasks: number;
  /** A fresh, migrated database; dropped by the caller's `drop`. */
  freshDatabase: () => Promise<{ url: string; drop: () => Promise<void> }>;
  /** Configuration overrides on top of the `production` environment. */
  overrides: DeepPartial<TaskerConfig>;
}

export interface ChannelMark {
  name: string;
  capacity: number;
  highWaterMark: number;
  dropped: number;
  blockedSends: number;
}

export interface BurstResult {
  scenario: string;
  tasks: number;
  steps: number;
  /** From the first creation to the last one acknowledged. */
  fillSeconds: number;
  /** From the start of draining (engine start, or the first creation when it runs throughout) to the last task complete. */
  drainSeconds: number;
  tasksPerSec: number;
  stepsPerSec: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  memoryMb: { rssStart: number; rssPeak: number; heapStart: number; heapPeak: number };
  maxStepQueueDepth: number;
  maxResultQueueDepth: number;
  channels: ChannelMark[];
}

const MB = 1024 * 1024;

/** Samples process memory every 100 ms and keeps the peaks. */
class MemorySampler {
  readonly rssStart: number;
  readonly heapStart: number;
  rssPeak: number;
  heapPeak: number;
  readonly #timer: ReturnType<typeof setInterval>;
  constructor() {
    const m = process.memoryUsage();
    this.rssStart = this.rssPeak = m.rss;
    this.heapStart = this.heapPeak = m.heapUsed;
    this.#timer = setInterval(() => this.sample(), 100);
  }
  sample(): void {
    const m = process.memoryUsage();
    this.rssPeak = Math.max(this.rssPeak, m.rss);
    this.heapPeak = Math.max(this.heapPeak, m.heapUsed);
  }
  stop(): BurstResult['memoryMb'] {
    clearInterval(this.#timer);
    this.sample();
    return {
      rssStart: this.rssStart / MB,
      rssPeak: this.rssPeak / MB,
      heapStart: this.heapStart / MB,
      heapPeak: this.heapPeak / MB,
    };
  }
}

/** Samples the depth of the step queue and the results queue every 250 ms on a connection of its own. */
class QueueDepthSampler {
  maxStep = 0;
  maxResults = 0;
  readonly #client: pg.Client;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #inFlight: Promise<void> | undefined;

  private constructor(client: pg.Client) {
    this.#client = client;
  }

  static async start(url: string): Promise<QueueDepthSampler> {
    const client = new pg.Client({ connectionString: url, application_name: 'tasker-bench-sampler' });
    await client.connect();
    const s = new QueueDepthSampler(client);
    s.#schedule(0);
    return s;
  }

  #schedule(delay: number): void {
    this.#timer = setTimeout(() => {
      this.#inFlight = this.sample().then(() => {
        if (!this.#stopped) this.#schedule(250);
      });
    }, delay);
  }

  async sample(): Promise<void> {
    const res = await this.#client.query<{ queue_name: string; n: number }>(
      `SELECT queue_name, count(*)::int AS n FROM tasker.queue_messages
       WHERE queue_name = ANY($1) GROUP BY queue_name`,
      [[workerQueueName(ns), QUEUES.StepResults]],
    );
    for (const r of res.rows) {
      if (r.queue_name === QUEUES.StepResults) this.maxResults = Math.max(this.maxResults, r.n);
      else this.maxStep = Math.max(this.maxStep, r.n);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#inFlight;
    await this.sample();
    await this.#client.end();
  }
}

interface RunningEngine {
  orchestrator: Orchestrator;
  worker: Worker;
  /** Resolves once `n` tasks were finalized (by the orchestrator or by the worker's completions). */
  finalized: (n: number) => Promise<void>;
  start: () => Promise<void>;
  stop: () => Promise<void>;
}

function engine(config: TaskerConfig): RunningEngine {
  let waiter: { target: number; resolve: () => void } | undefined;
  // Tasks finalized by the orchestrator (four-transaction path) plus those the worker's completions finalized
  // (the default: a task is final once its last step's completion committed).
  let byOrchestrator = 0;
  let byWorker = 0;
  const check = (): void => {
    if (waiter && byOrchestrator + byWorker >= waiter.target) {
      const w = waiter;
      waiter = undefined;
      w.resolve();
    }
  };
  const orchestrator = createOrchestrator({
    config,
    onResultBatch: (s) => {
      byOrchestrator = s.tasksFinalized;
      check();
    },
  });
  const resolvesInCompletion = config.worker.resolve_in_completion;
  const worker = createWorker({
    config,
    templates: [template],
    handlers,
    onStepFinished: (e) => {
      if (resolvesInCompletion && e.stepName === LAST_STEP && e.success) {
        byWorker += 1;
        check();
      }
    },
  });
  return {
    orchestrator,
    worker,
    finalized: (n) =>
      byOrchestrator + byWorker >= n
        ? Promise.resolve()
        : new Promise<void>((resolve) => (waiter = { target: n, resolve })),
    start: async () => {
      await orchestrator.start();
      await worker.start();
    },
    stop: async () => {
      await worker.stop();
      await orchestrator.stop();
    },
  };
}

/** Creates `n` tasks with {@link CREATORS} creations in flight at once. */
async function createAll(orchestrator: Orchestrator, n: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CREATORS }, async () => {
      while (next < n) {
        const i = next++;
        await orchestrator.createTask({ namespace: ns, name: 'linear2', context: { i } });
      }
    }),
  );
}

function channelMarks(channels: BoundedChannel<unknown>[]): ChannelMark[] {
  return channels.map((c) => {
    const s = c.stats();
    if (s.highWaterMark > s.capacity || s.depth > s.capacity) {
      throw new Error(
        `channel ${s.name} exceeded its bound: high-water mark ${s.highWaterMark}, capacity ${s.capacity}`,
      );
    }
    return {
      name: s.name,
      capacity: s.capacity,
      highWaterMark: s.highWaterMark,
      dropped: s.dropped,
      blockedSends: s.blockedSends,
    };
  });
}

async function latencies(url: string, expected: number): Promise<BurstResult['latencyMs']> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const res = await c.query<{ n: number; complete: number; p: number[]; max: number }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE state = 'complete')::int AS complete,
              percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY ms) AS p, max(ms) AS max
       FROM (SELECT state, (extract(epoch FROM completed_at - created_at) * 1000)::float8 AS ms
             FROM tasker.tasks) t`,
    );
    const r = res.rows[0]!;
    // Nothing lost: every task of the burst exists and is complete.
    if (r.n !== expected || r.complete !== expected) {
      throw new Error(`expected ${expected} complete tasks, found ${r.complete} of ${r.n}`);
    }
    return { p50: r.p[0]!, p95: r.p[1]!, p99: r.p[2]!, max: r.max };
  } finally {
    await c.end();
  }
}

async function scenario(label: string, engineFirst: boolean, options: BurstOptions): Promise<BurstResult> {
  const db = await options.freshDatabase();
  try {
    const config = loadConfig({
      environment: 'production',
      env: { DATABASE_URL: db.url },
      overrides: options.overrides,
    });
    const f = engine(config);
    // Registering the template also creates its namespace's step queue, so tasks can queue before any worker runs.
    await f.orchestrator.registerTemplate(template);
    const depth = await QueueDepthSampler.start(db.url);
    const memory = new MemorySampler();
    if (engineFirst) await f.start();
    const t0 = performance.now();
    await createAll(f.orchestrator, options.tasks);
    const filled = performance.now();
    await depth.sample(); // the depth at the end of the fill, whatever the sampling interval
    if (!engineFirst) await f.start();
    const drainStart = engineFirst ? t0 : performance.now();
    await f.finalized(options.tasks);
    const drained = performance.now();
    const mem = memory.stop();
    await depth.stop();
    const channels = channelMarks([...f.worker.channels, ...f.orchestrator.channels]);
    await f.stop();
    const drainSeconds = (drained - drainStart) / 1000;
    return {
      scenario: label,
      tasks: options.tasks,
      steps: options.tasks * STEPS_PER_TASK,
      fillSeconds: (filled - t0) / 1000,
      drainSeconds,
      tasksPerSec: options.tasks / drainSeconds,
      stepsPerSec: (options.tasks * STEPS_PER_TASK) / drainSeconds,
      latencyMs: await latencies(db.url, options.tasks),
      memoryMb: mem,
      maxStepQueueDepth: depth.maxStep,
      maxResultQueueDepth: depth.maxResults,
      channels,
    };
  } finally {
    await db.drop();
  }
}

/** Runs both burst scenarios, printing a line per scenario. */
export async function runBurst(options: BurstOptions): Promise<BurstResult[]> {
  const results: BurstResult[] = [];
  for (const [label, engineFirst] of [
    ['queue filled first, then drained', false],
    ['engine running during the burst', true],
  ] as const) {
    const r = await scenario(label, engineFirst, options);
    console.log(
      `[burst: ${label}] ${r.tasks} linear-2 tasks: fill ${r.fillSeconds.toFixed(2)} s, drain ${r.drainSeconds.toFixed(2)} s ` +
        `(${r.tasksPerSec.toFixed(0)} tasks/s, ${r.stepsPerSec.toFixed(0)} steps/s), latency p50 ${(r.latencyMs.p50 / 1000).toFixed(2)} s ` +
        `p95 ${(r.latencyMs.p95 / 1000).toFixed(2)} s p99 ${(r.latencyMs.p99 / 1000).toFixed(2)} s, ` +
        `RSS ${r.memoryMb.rssStart.toFixed(0)} -> peak ${r.memoryMb.rssPeak.toFixed(0)} MB, heap peak ${r.memoryMb.heapPeak.toFixed(0)} MB, ` +
        `max queue depth ${r.maxStepQueueDepth} steps / ${r.maxResultQueueDepth} results`,
    );
    for (const c of r.channels) {
      console.log(
        `  channel ${c.name}: high-water ${c.highWaterMark}/${c.capacity}, dropped ${c.dropped}, blocked sends ${c.blockedSends}`,
      );
    }
    results.push(r);
  }
  return results;
}

/** The burst results as markdown tables (the body of the burst section of BENCHMARKS.md). */
export function burstMarkdown(results: readonly BurstResult[]): string[] {
  const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  const lines = [
    '| burst scenario | tasks (steps) | fill | drain | drain tasks/s | drain steps/s | latency p50 | p95 | p99 | max |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.scenario} | ${r.tasks} (${r.steps}) | ${r.fillSeconds.toFixed(2)} s | ${r.drainSeconds.toFixed(2)} s | ` +
        `${r.tasksPerSec.toFixed(0)} | ${r.stepsPerSec.toFixed(0)} | ${s(r.latencyMs.p50)} | ${s(r.latencyMs.p95)} | ` +
        `${s(r.latencyMs.p99)} | ${s(r.latencyMs.max)} |`,
    ),
    '',
    '| burst scenario | RSS at start | peak RSS | heap at start | peak heap | max step queue depth | max result queue depth |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.scenario} | ${r.memoryMb.rssStart.toFixed(0)} MB | ${r.memoryMb.rssPeak.toFixed(0)} MB | ` +
        `${r.memoryMb.heapStart.toFixed(0)} MB | ${r.memoryMb.heapPeak.toFixed(0)} MB | ${r.maxStepQueueDepth} | ${r.maxResultQueueDepth} |`,
    ),
    '',
    '| burst scenario | channel | capacity | high-water mark | dropped | blocked sends |',
    '| --- | --- | --- | --- | --- | --- |',
    ...results.flatMap((r) =>
      r.channels.map(
        (c) =>
          `| ${r.scenario} | \`${c.name}\` | ${c.capacity} | ${c.highWaterMark} | ${c.dropped} | ${c.blockedSends} |`,
      ),
    ),
  ];
  return lines;
}
