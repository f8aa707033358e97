import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A real HTTP proxy in front of the API that can cut an event stream half-way. */
export interface Proxy {
  url: string;
  /** Every event-stream request that reached the proxy, with the Last-Event-ID it carried. */
  streamRequests: { lastEventId: string | undefined }[];
  close(): Promise<void>;
}

/**
 * Forwards every request to `target`. The first event stream is passed through frame by frame and its
 * connection destroyed right after `dropFirstAfterEvents` transition events, as a network failure would.
 */
export async function startProxy(target: string, options: { dropFirstAfterEvents: number }): Promise<Proxy> {
  const upstream = new URL(target);
  const streamRequests: Proxy['streamRequests'] = [];
  const server = http.createServer((req, res) => {
    const isStream = (req.url ?? '').endsWith('/events');
    const cut = isStream && streamRequests.length === 0;
    if (isStream) {
      const header = req.headers['last-event-id'];
      streamRequests.push({ lastEventId: typeof header === 'string' ? header : undefined });
    }
    const forward = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (!cut) {
          up.pipe(res);
          return;
        }
        let buffer = '';
        let transitions = 0;
        let cutting = false;
        up.setEncoding('utf8');
        up.on('data', (chunk: string) => {
          if (cutting) return;
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) !== -1) {
            const frame = buffer.slice(0, end + 2);
            buffer = buffer.slice(end + 2);
            if (frame.includes('event: transition')) transitions += 1;
            if (transitions >= options.dropFirstAfterEvents) {
              cutting = true;
              up.destroy();
              // Cut a moment after the frame is on the wire: a reader that had not pulled the bytes yet
              // would lose them with the connection, and the test wants them delivered first.
              res.write(frame, () => setTimeout(() => res.destroy(), 300));
              return;
            }
            res.write(frame);
          }
        });
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    streamRequests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
