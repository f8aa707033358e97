import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  backoffDelayMs,
  parseRetryAfter,
  TaskerClient,
  TaskerTimeoutError,
  TaskerUnavailableError,
} from '../../src/client/index.js';
import { resolveRetryOptions } from '../../src/client/retry.js';

const TASK_UUID = '0199aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee';

/** A tiny real HTTP server answering from a script of responses, recording when each request arrived. */
async function scriptedServer(
  script: { status: number; headers?: Record<string, string>; body: unknown; delayMs?: number }[],
): Promise<{ url: string; requests: { method: string; url: string; at: number }[]; close(): Promise<void> }> {
  const requests: { method: string; url: string; at: number }[] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', at: Date.now() });
    const step = script[Math.min(requests.length - 1, script.length - 1)]!;
    const send = (): void => {
      res.writeHead(step.status, { 'content-type': 'application/json', ...step.headers });
      res.end(JSON.stringify(step.body));
    };
    if (step.delayMs) setTimeout(send, step.delayMs);
    else send();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const unavailable = {
  error: { code: 'SERVICE_UNAVAILABLE', message: 'the database is unavailable; try again later' },
};
const task = { task_uuid: TASK_UUID, state: 'complete' };

describe('retries', () => {
  const servers: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });

  it('a GET answered 503 with Retry-After: 1 is retried no sooner than one second later, then succeeds', async () => {
    const server = await scriptedServer([
      { status: 503, headers: { 'retry-after': '1' }, body: unavailable },
      { status: 200, body: task },
    ]);
    servers.push(server);
    const client = new TaskerClient({ baseUrl: server.url, retry: { baseDelayMs: 1 } });
    const got = await client.getTask(TASK_UUID);
    expect(got).toEqual(task);
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]!.at - server.requests[0]!.at).toBeGreaterThanOrEqual(1000);
  });

  it('Retry-After as an HTTP date is honoured too', async () => {
    // HTTP dates have one-second resolution: ask for two seconds ahead so at least one remains.
    const when = new Date(Date.now() + 2000).toUTCString();
    const server = await scriptedServer([
      { status: 503, headers: { 'retry-after': when }, body: unavailable },
      { status: 200, body: task },
    ]);
    servers.push(server);
    const client = new TaskerClient({ baseUrl: server.url, retry: { baseDelayMs: 1 } });
    await client.getTask(TASK_UUID);
    expect(server.requests[1]!.at - server.requests[0]!.at).toBeGreaterThanOrEqual(900);
  });

  it('gives up after maxAttempts with a TaskerUnavailableError', async () => {
    const server = await scriptedServer([{ status: 503, body: unavailable }]);
    servers.push(server);
    const client = new TaskerClient({ baseUrl: server.url, retry: { maxAttempts: 3, baseDelayMs: 1 } });
    const e = await client.getTask(TASK_UUID).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TaskerUnavailableError);
    expect((e as TaskerUnavailableError).apiCode).toBe('SERVICE_UNAVAILABLE');
    expect(server.requests).toHaveLength(3);
  });

  it('does not wait for a Retry-After beyond maxRetryAfterMs', async () => {
    const server = await scriptedServer([
      { status: 503, headers: { 'retry-after': '120' }, body: unavailable },
    ]);
    servers.push(server);
    const client = new TaskerClient({ baseUrl: server.url, retry: { maxRetryAfterMs: 5000 } });
    const e = await client.getTask(TASK_UUID).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TaskerUnavailableError);
    expect((e as TaskerUnavailableError).retryAfterMs).toBe(120_000);
    expect(server.requests).toHaveLength(1);
  });

  it('POST /v1/tasks is retried only when it carries an idempotency_key', async () => {
    const server = await scriptedServer([
      { status: 503, body: unavailable },
      { status: 503, body: unavailable },
      { status: 201, body: task },
    ]);
    servers.push(server);
    const client = new TaskerClient({ baseUrl: server.url, retry: { baseDelayMs: 1 } });
    const body = { namespace: 'n', name: 't', context: {} };
    await expect(client.createTask(body)).rejects.toBeInstanceOf(TaskerUnavailableError);
    expect(server.requests).toHaveLength(1);
    const created = await client.createTask({ ...body, idempotency_key: 'once' });
    expect(created.created).toBe(true);
    expect(server.requests).toHaveLength(3);
  });

  it('step actions are never retried', async () => {
    const server = await scriptedServer([{ status: 503, body: unavailable }]);
    servers.push(server);
    const client = new TaskerClient({ baseUrl: server.url, retry: { baseDelayMs: 1 } });
    await expect(client.resetForRetry(TASK_UUID, TASK_UUID, { reason: 'r' })).rejects.toBeInstanceOf(
      TaskerUnavailableError,
    );
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.method).toBe('PATCH');
  });

  it('a slow response past timeoutMs is a TaskerTimeoutError', async () => {
    const server = await scriptedServer([{ status: 200, body: task, delayMs: 2000 }]);
    servers.push(server);
    const client = new TaskerClient({ baseUrl: server.url, timeoutMs: 100 });
    await expect(client.getTask(TASK_UUID)).rejects.toBeInstanceOf(TaskerTimeoutError);
  });

  it('a non-JSON error page from a proxy still becomes a typed error', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>Bad Gateway</html>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    const client = new TaskerClient({
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    });
    const e = await client.getTask(TASK_UUID).catch((x: unknown) => x);
    expect(e).toMatchObject({ status: 502, apiCode: 'HTTP_502' });
    expect((e as Error).message).toContain('Bad Gateway');
  });
});

describe('retry timing helpers', () => {
  it('parseRetryAfter reads seconds and HTTP dates', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('-1', now)).toBeUndefined();
  });

  it('backoffDelayMs doubles, caps, and keeps between half and all of the step', () => {
    const options = resolveRetryOptions({ baseDelayMs: 100, maxDelayMs: 1000 });
    expect(backoffDelayMs(1, options, () => 0)).toBe(50);
    expect(backoffDelayMs(1, options, () => 1)).toBe(100);
    expect(backoffDelayMs(3, options, () => 1)).toBe(400);
    expect(backoffDelayMs(10, options, () => 1)).toBe(1000);
    expect(backoffDelayMs(10, options, () => 0)).toBe(500);
  });

  it('rejects nonsense options', () => {
    expect(() => resolveRetryOptions({ maxAttempts: 0 })).toThrow(RangeError);
    expect(() => resolveRetryOptions({ baseDelayMs: -1 })).toThrow(RangeError);
  });
});
