import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  BoundedChannel,
  ChannelClosedError,
  ChannelFullError,
  ChannelMonitor,
  Semaphore,
  channelFromConfig,
  type DropReason,
} from '../../src/channels/index.js';
import { ErrorCode, TaskerError } from '../../src/errors.js';

/** Lets every queued microtask and pending I/O callback run, so "still pending" assertions mean something. */
async function settle(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Tracks whether a promise has settled without awaiting it. */
function track<T>(p: Promise<T>): { readonly settled: boolean; readonly promise: Promise<T> } {
  const state = { settled: false, promise: p };
  p.then(
    () => {
      state.settled = true;
    },
    () => {
      state.settled = true;
    },
  );
  return state;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('BoundedChannel: block policy', () => {
  it('blocks a send until a receive frees space', async () => {
    const ch = new BoundedChannel<number>({ name: 't', capacity: 1, overflowPolicy: 'block' });
    expect(await ch.send(1)).toBe('sent');
    const second = track(ch.send(2));
    await settle();
    expect(second.settled).toBe(false);
    expect(ch.stats().waitingSenders).toBe(1);
    expect(ch.stats().blockedSends).toBe(1);

    expect(await ch.receive()).toBe(1);
    expect(await second.promise).toBe('sent');
    expect(ch.depth).toBe(1);
    expect(await ch.receive()).toBe(2);
  });

  it('admits blocked senders in FIFO order and keeps item order', async () => {
    const ch = new BoundedChannel<string>({ name: 't', capacity: 1, overflowPolicy: 'block' });
    await ch.send('first');
    const resolvedOrder: string[] = [];
    const senders = ['a', 'b', 'c'].map((x) => ch.send(x).then(() => resolvedOrder.push(x)));
    await settle();
    expect(resolvedOrder).toEqual([]);
    const received: (string | undefined)[] = [];
    for (let i = 0; i < 4; i++) received.push(await ch.receive());
    await Promise.all(senders);
    expect(received).toEqual(['first', 'a', 'b', 'c']);
    expect(resolvedOrder).toEqual(['a', 'b', 'c']);
  });

  it('trySend returns full without keeping the item', () => {
    const ch = new BoundedChannel<number>({ name: 't', capacity: 1, overflowPolicy: 'block' });
    expect(ch.trySend(1)).toBe('sent');
    expect(ch.trySend(2)).toBe('full');
    expect(ch.drain(10)).toEqual([1]);
    expect(ch.stats().sent).toBe(1);
  });

  it('rejects a blocked send with CHANNEL_FULL after sendTimeoutMs', async () => {
    vi.useFakeTimers();
    const ch = new BoundedChannel<number>({
      name: 'slow',
      capacity: 1,
      overflowPolicy: 'block',
      sendTimeoutMs: 50,
    });
    await ch.send(1);
    const blocked = ch.send(2);
    const assertion = expect(blocked).rejects.toMatchObject({ code: ErrorCode.ChannelFull, channel: 'slow' });
    vi.advanceTimersByTime(49);
    expect(ch.stats().waitingSenders).toBe(1);
    vi.advanceTimersByTime(1);
    await assertion;
    await expect(blocked).rejects.toBeInstanceOf(ChannelFullError);
    expect(ch.stats().waitingSenders).toBe(0);
    // The timed-out item must not appear later.
    expect(ch.drain(10)).toEqual([1]);
  });

  it('does not time out a send that was admitted in time', async () => {
    vi.useFakeTimers();
    const ch = new BoundedChannel<number>({
      name: 't',
      capacity: 1,
      overflowPolicy: 'block',
      sendTimeoutMs: 50,
    });
    await ch.send(1);
    const blocked = ch.send(2);
    vi.advanceTimersByTime(20);
    expect(ch.tryReceive()).toBe(1);
    vi.advanceTimersByTime(100);
    await expect(blocked).resolves.toBe('sent');
    expect(ch.tryReceive()).toBe(2);
  });

  it('drain admits blocked senders as slots free up', async () => {
    const ch = new BoundedChannel<number>({ name: 't', capacity: 2, overflowPolicy: 'block' });
    await ch.send(1);
    await ch.send(2);
    const p3 = ch.send(3);
    const p4 = ch.send(4);
    expect(ch.drain(3)).toEqual([1, 2, 3]);
    await expect(p3).resolves.toBe('sent');
    await expect(p4).resolves.toBe('sent');
    expect(ch.drain(10)).toEqual([4]);
  });
});

describe('BoundedChannel: drop and reject policies', () => {
  it('drop_newest discards the new item and counts it', async () => {
    const drops: [number, DropReason][] = [];
    const ch = new BoundedChannel<number>({
      name: 't',
      capacity: 2,
      overflowPolicy: 'drop_newest',
      onDrop: (item, reason) => drops.push([item, reason]),
    });
    expect(await ch.send(1)).toBe('sent');
    expect(await ch.send(2)).toBe('sent');
    expect(await ch.send(3)).toBe('dropped');
    expect(ch.trySend(4)).toBe('dropped');
    expect(ch.drain(10)).toEqual([1, 2]);
    expect(ch.stats().dropped).toBe(2);
    expect(drops).toEqual([
      [3, 'drop_newest'],
      [4, 'drop_newest'],
    ]);
  });

  it('drop_oldest evicts the head and accepts the new item', async () => {
    const drops: [number, DropReason][] = [];
    const ch = new BoundedChannel<number>({
      name: 't',
      capacity: 2,
      overflowPolicy: 'drop_oldest',
      onDrop: (item, reason) => drops.push([item, reason]),
    });
    await ch.send(1);
    await ch.send(2);
    expect(await ch.send(3)).toBe('sent');
    expect(ch.trySend(4)).toBe('sent');
    expect(ch.drain(10)).toEqual([3, 4]);
    expect(ch.stats()).toMatchObject({ dropped: 2, sent: 4, received: 2 });
    expect(drops).toEqual([
      [1, 'drop_oldest'],
      [2, 'drop_oldest'],
    ]);
  });

  it('reject throws a typed ChannelFullError', async () => {
    const ch = new BoundedChannel<number>({ name: 'strict', capacity: 1, overflowPolicy: 'reject' });
    await ch.send(1);
    const err: unknown = await ch.send(2).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChannelFullError);
    expect(err).toBeInstanceOf(TaskerError);
    expect((err as ChannelFullError).code).toBe('CHANNEL_FULL');
    expect(() => ch.trySend(3)).toThrow(ChannelFullError);
    expect(ch.drain(10)).toEqual([1]);
  });
});

describe('BoundedChannel: receiving, closing, stats', () => {
  it('hands an item straight to a waiting receiver', async () => {
    const ch = new BoundedChannel<string>({ name: 't', capacity: 1, overflowPolicy: 'block' });
    const pending = track(ch.receive());
    await settle();
    expect(pending.settled).toBe(false);
    expect(ch.stats().waitingReceivers).toBe(1);
    await ch.send('x');
    expect(await pending.promise).toBe('x');
    expect(ch.stats()).toMatchObject({ depth: 0, sent: 1, received: 1, waitingReceivers: 0 });
  });

  it('close rejects pending senders and lets receivers drain before undefined', async () => {
    const ch = new BoundedChannel<number>({ name: 'c', capacity: 2, overflowPolicy: 'block' });
    await ch.send(1);
    await ch.send(2);
    const blocked = ch.send(3);
    ch.close();
    await expect(blocked).rejects.toBeInstanceOf(ChannelClosedError);
    await expect(blocked).rejects.toMatchObject({ code: ErrorCode.ChannelClosed });
    await expect(ch.send(4)).rejects.toBeInstanceOf(ChannelClosedError);
    expect(() => ch.trySend(5)).toThrow(ChannelClosedError);
    expect(await ch.receive()).toBe(1);
    expect(await ch.receive()).toBe(2);
    expect(await ch.receive()).toBeUndefined();
    expect(ch.stats().closed).toBe(true);
  });

  it('close resolves waiting receivers with undefined', async () => {
    const ch = new BoundedChannel<number>({ name: 'c', capacity: 2, overflowPolicy: 'block' });
    const a = ch.receive();
    const b = ch.receive();
    ch.close();
    expect(await a).toBeUndefined();
    expect(await b).toBeUndefined();
  });

  it('async iteration yields everything sent, then ends on close', async () => {
    const ch = new BoundedChannel<number>({ name: 'it', capacity: 3, overflowPolicy: 'block' });
    const collected: number[] = [];
    const consumer = (async () => {
      for await (const item of ch) collected.push(item);
    })();
    for (let i = 0; i < 10; i++) await ch.send(i);
    ch.close();
    await consumer;
    expect(collected).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('abandons a receive when its signal aborts', async () => {
    const ch = new BoundedChannel<number>({ name: 't', capacity: 2, overflowPolicy: 'block' });
    const ac = new AbortController();
    const pending = ch.receive(ac.signal);
    ac.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
    expect(ch.stats().waitingReceivers).toBe(0);
    await ch.send(7);
    // The aborted receiver must not have swallowed the item.
    expect(ch.tryReceive()).toBe(7);
  });

  it('tracks depth, high-water mark and saturation', async () => {
    const ch = new BoundedChannel<number>({ name: 't', capacity: 4, overflowPolicy: 'block' });
    await ch.send(1);
    await ch.send(2);
    await ch.send(3);
    ch.tryReceive();
    ch.tryReceive();
    await ch.send(4);
    expect(ch.stats()).toMatchObject({ depth: 2, highWaterMark: 3, saturation: 0.5, sent: 4, received: 2 });
  });

  it('keeps FIFO order across ring growth and wrap-around', async () => {
    const ch = new BoundedChannel<number>({ name: 't', capacity: 100, overflowPolicy: 'block' });
    let next = 0;
    const out: number[] = [];
    // Uneven send/receive bursts force the head to wrap many times at several ring sizes.
    for (let round = 0; round < 200; round++) {
      const sends = (round * 7) % 60;
      for (let i = 0; i < sends && ch.depth < 100; i++) await ch.send(next++);
      out.push(...ch.drain((round * 13) % 50));
    }
    out.push(...ch.drain(1000));
    expect(out).toHaveLength(next);
    expect(out.every((v, i) => v === i)).toBe(true);
    expect(ch.stats().highWaterMark).toBeLessThanOrEqual(100);
  });

  it('refuses undefined items', async () => {
    const ch = new BoundedChannel<number | undefined>({ name: 't', capacity: 1, overflowPolicy: 'block' });
    await expect(ch.send(undefined)).rejects.toBeInstanceOf(TypeError);
    expect(() => ch.trySend(undefined)).toThrow(TypeError);
  });

  it('validates construction options', () => {
    expect(() => new BoundedChannel({ name: 't', capacity: 0, overflowPolicy: 'block' })).toThrow(RangeError);
    expect(() => new BoundedChannel({ name: 't', capacity: 1.5, overflowPolicy: 'block' })).toThrow(
      RangeError,
    );
  });

  it('channelFromConfig maps the TOML table', async () => {
    const ch = channelFromConfig<number>('cfg', {
      capacity: 1,
      overflow_policy: 'reject',
      send_timeout_ms: 0,
    });
    expect(ch).toMatchObject({ name: 'cfg', capacity: 1, overflowPolicy: 'reject', sendTimeoutMs: 0 });
    await ch.send(1);
    await expect(ch.send(2)).rejects.toBeInstanceOf(ChannelFullError);
  });
});

describe('Semaphore', () => {
  it('never exceeds its permits under 1000 concurrent acquirers', async () => {
    const sem = new Semaphore(7);
    let active = 0;
    let maxActive = 0;
    let done = 0;
    await Promise.all(
      Array.from({ length: 1000 }, async (_, i) => {
        const release = await sem.acquire();
        active++;
        maxActive = Math.max(maxActive, active);
        // Hold the permit across a varying number of event-loop turns so holders overlap unpredictably.
        for (let k = 0; k < i % 3; k++) await settle();
        active--;
        done++;
        release();
      }),
    );
    expect(done).toBe(1000);
    expect(maxActive).toBe(7);
    expect(sem.available).toBe(7);
    expect(sem.waiting).toBe(0);
  });

  it('release is idempotent', async () => {
    const sem = new Semaphore(2);
    const release = await sem.acquire();
    expect(sem.available).toBe(1);
    release();
    release();
    expect(sem.available).toBe(2);
  });

  it('serves waiters in FIFO order and tryAcquire does not jump the queue', async () => {
    const sem = new Semaphore(1);
    const first = sem.tryAcquire();
    expect(first).toBeDefined();
    const order: string[] = [];
    const a = sem.acquire().then((r) => {
      order.push('a');
      return r;
    });
    const b = sem.acquire().then((r) => {
      order.push('b');
      return r;
    });
    expect(sem.waiting).toBe(2);
    first?.();
    expect(sem.tryAcquire()).toBeUndefined();
    (await a)();
    (await b)();
    expect(order).toEqual(['a', 'b']);
    expect(sem.available).toBe(1);
  });

  it('close rejects waiters with CHANNEL_CLOSED and later acquisitions fail', async () => {
    const sem = new Semaphore(1, 'handlers');
    const held = await sem.acquire();
    const waiters = [sem.acquire(), sem.acquire()];
    sem.close();
    for (const w of waiters) await expect(w).rejects.toMatchObject({ code: ErrorCode.ChannelClosed });
    await expect(sem.acquire()).rejects.toBeInstanceOf(ChannelClosedError);
    expect(sem.tryAcquire()).toBeUndefined();
    expect(sem.waiting).toBe(0);
    held();
    expect(sem.available).toBe(1);
  });

  it('aborting the signal removes the waiter', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const ac = new AbortController();
    const aborted = sem.acquire(ac.signal);
    const later = track(sem.acquire());
    expect(sem.waiting).toBe(2);
    ac.abort(new Error('cancelled'));
    await expect(aborted).rejects.toThrow('cancelled');
    expect(sem.waiting).toBe(1);
    held();
    // The permit goes to the next live waiter, not the aborted one.
    const release = await later.promise;
    expect(sem.available).toBe(0);
    release();
    expect(sem.available).toBe(1);
  });

  it('rejects at once for an already aborted signal', async () => {
    const sem = new Semaphore(1);
    await expect(sem.acquire(AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone');
    expect(sem.available).toBe(1);
  });

  it('withPermit releases even when the function throws', async () => {
    const sem = new Semaphore(1);
    await expect(
      sem.withPermit(() => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(sem.available).toBe(1);
    await expect(sem.withPermit(() => 42)).resolves.toBe(42);
  });
});

describe('ChannelMonitor', () => {
  function capturingLogger(): { logger: ReturnType<typeof pino>; lines: { msg: string }[] } {
    const lines: { msg: string }[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(JSON.parse(chunk.toString()) as { msg: string });
        cb();
      },
    });
    return { logger: pino({ level: 'warn' }, stream), lines };
  }

  async function fill(ch: BoundedChannel<number>, n: number): Promise<void> {
    for (let i = 0; i < n; i++) await ch.send(i);
  }

  it('reports channels at or above the threshold and snapshots all', async () => {
    const monitor = new ChannelMonitor();
    const hot = new BoundedChannel<number>({ name: 'hot', capacity: 10, overflowPolicy: 'block' });
    const cool = new BoundedChannel<number>({ name: 'cool', capacity: 10, overflowPolicy: 'block' });
    monitor.register(hot);
    monitor.register(cool);
    await fill(hot, 8);
    await fill(cool, 7);
    expect(monitor.check().map((s) => s.name)).toEqual(['hot']);
    expect(monitor.check(0.5).map((s) => s.name)).toEqual(['hot', 'cool']);
    expect(monitor.snapshot().map((s) => [s.name, s.depth])).toEqual([
      ['hot', 8],
      ['cool', 7],
    ]);
    monitor.unregister(cool);
    expect(monitor.snapshot()).toHaveLength(1);
  });

  it('logs a warning at most once per channel per interval', async () => {
    let now = 1_000_000;
    const { logger, lines } = capturingLogger();
    const monitor = new ChannelMonitor({ logger, now: () => now });
    const ch = new BoundedChannel<number>({ name: 'busy', capacity: 5, overflowPolicy: 'block' });
    monitor.register(ch);
    await fill(ch, 4);
    monitor.check();
    monitor.check();
    expect(lines).toHaveLength(1);
    expect(lines[0]?.msg).toContain("'busy' is 80% full");
    now += 9_999;
    monitor.check();
    expect(lines).toHaveLength(1);
    now += 2;
    monitor.check();
    expect(lines).toHaveLength(2);
  });

  it('start runs periodic checks until stop', async () => {
    vi.useFakeTimers();
    const { logger, lines } = capturingLogger();
    let now = 0;
    const monitor = new ChannelMonitor({ logger, now: () => now });
    const ch = new BoundedChannel<number>({ name: 'p', capacity: 1, overflowPolicy: 'block' });
    monitor.register(ch);
    await ch.send(1);
    monitor.start(1000);
    expect(lines).toHaveLength(0);
    vi.advanceTimersByTime(1000);
    expect(lines).toHaveLength(1);
    monitor.stop();
    now += 60_000;
    vi.advanceTimersByTime(5000);
    expect(lines).toHaveLength(1);
  });
});
