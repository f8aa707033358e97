import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { followEvents, type SseEvent } from '../src/sse.js';

// The parser itself is the client's, tested in test/client/sse.test.ts.
describe('followEvents', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
    server = createServer(handler);
    return new Promise((resolve) =>
      server?.listen(0, '127.0.0.1', () =>
        resolve(`http://127.0.0.1:${(server?.address() as AddressInfo).port}`),
      ),
    );
  }

  it('reconnects after a dropped connection with Last-Event-ID, and stops at `end`', async () => {
    const seenIds: (string | undefined)[] = [];
    const url = await serve((req, res) => {
      const last = req.headers['last-event-id'] as string | undefined;
      seenIds.push(last);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (last === undefined) {
        // First connection: two events, then the connection drops without `end`.
        res.end('retry: 10\n\nid: t1\nevent: transition\ndata: 1\n\nid: t2\nevent: transition\ndata: 2\n\n');
      } else {
        res.end('id: t3\nevent: transition\ndata: 3\n\nevent: end\ndata: {"state":"complete"}\n\n');
      }
    });
    const events: SseEvent[] = [];
    const errors: unknown[] = [];
    await followEvents({
      signal: new AbortController().signal,
      open: (lastId, signal) => fetch(url, { headers: lastId ? { 'last-event-id': lastId } : {}, signal }),
      onEvent: (e) => events.push(e),
      onError: (e) => errors.push(e),
    });
    expect(seenIds).toEqual([undefined, 't2']);
    expect(events.map((e) => `${e.event}:${e.data}`)).toEqual([
      'transition:1',
      'transition:2',
      'transition:3',
      'end:{"state":"complete"}',
    ]);
    expect(errors).toEqual([]);
  });

  it('reports a refused connection and keeps trying until aborted', async () => {
    let calls = 0;
    const abort = new AbortController();
    const url = await serve((_req, res) => {
      calls += 1;
      res.writeHead(401, { 'content-type': 'application/json' }).end('{}');
    });
    const errors: unknown[] = [];
    await followEvents({
      signal: abort.signal,
      defaultRetryMs: 1,
      open: async (_lastId, signal) => {
        const res = await fetch(url, { signal });
        if (!res.ok) throw new Error(`status ${res.status}`);
        return res;
      },
      onEvent: () => undefined,
      onError: (e) => {
        errors.push(e);
        if (errors.length === 3) abort.abort();
      },
    });
    expect(calls).toBe(3);
    expect(String(errors[0])).toContain('status 401');
  });
});
