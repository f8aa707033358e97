/**
 * Server-Sent Events over fetch. `EventSource` cannot send an `Authorization` or `X-API-Key` header, so the
 * dashboard reads the stream itself: the client's `SseParser` turns chunks of text into events, and
 * {@link followEvents} reconnects with `Last-Event-ID` until the server sends `end` or the caller stops.
 */

// The parser is the client's (WHATWG event-stream rules, pure, no I/O): one implementation for both.
import { SseParser, type SseEvent } from '../../src/client/sse.js';

export type { SseEvent };

/** How {@link followEvents} reaches the server and reports. */
export interface FollowOptions {
  /** Opens the stream, resuming after `lastEventId` when given. */
  open: (lastEventId: string | undefined, signal: AbortSignal) => Promise<Response>;
  onEvent: (event: SseEvent) => void;
  /** Told about a dropped or refused connection; the follower retries after the server's `retry:` delay. */
  onError?: (error: unknown) => void;
  signal: AbortSignal;
  /** Delay before reconnecting when the server named none. */
  defaultRetryMs?: number;
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/**
 * Follows a stream until an `end` event arrives or `signal` aborts; reconnects with the last event id after a
 * dropped connection. Events may repeat across reconnects (delivery is at-least-once): callers dedupe by id.
 */
export async function followEvents(options: FollowOptions): Promise<void> {
  const parser = new SseParser();
  while (!options.signal.aborted) {
    let ended = false;
    try {
      const res = await options.open(parser.lastEventId || undefined, options.signal);
      if (!res.body) throw new Error('the event stream has no body');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of parser.feed(value)) {
          options.onEvent(event);
          if (event.event === 'end') ended = true;
        }
      }
    } catch (e) {
      if (options.signal.aborted) return;
      options.onError?.(e);
    }
    // A half-received event of the dropped connection is discarded; the last event id is kept.
    parser.end();
    if (ended) return;
    await delay(parser.retryMs ?? options.defaultRetryMs ?? 2000, options.signal);
  }
}
