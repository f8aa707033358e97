/**
 * Server-Sent Events over fetch. `EventSource` cannot send an `Authorization` or `X-API-Key` header, so the
 * dashboard reads the stream itself: {@link SseParser} turns chunks of text into events (the WHATWG rules:
 * `field: value` lines, blank line dispatches, `:` comments, CR/LF/CRLF line ends), and {@link followEvents}
 * reconnects with `Last-Event-ID` until the server sends `end` or the caller stops.
 */

/** One dispatched event. */
export interface SseEvent {
  /** `event:` field; `message` when absent. */
  event: string;
  /** The `data:` lines joined by newlines. */
  data: string;
  /** The last `id:` seen (it persists across events, as in EventSource). */
  id: string | undefined;
}

/** Incremental parser: feed it text as it arrives, it returns the events completed by that text. */
export class SseParser {
  #buffer = '';
  #event = '';
  #data: string[] = [];
  #hasData = false;
  #lastId: string | undefined;
  /** The `retry:` value last received, in milliseconds. */
  retryMs: number | undefined;

  get lastEventId(): string | undefined {
    return this.#lastId;
  }

  /** Parses `chunk` (any split, even mid-line or between CR and LF) and returns the finished events. */
  push(chunk: string): SseEvent[] {
    this.#buffer += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.#buffer);
      if (!match) break;
      // A CR at the very end may be the first half of CRLF: wait for the next chunk to decide.
      if (match[0] === '\r' && match.index === this.#buffer.length - 1) break;
      const line = this.#buffer.slice(0, match.index);
      this.#buffer = this.#buffer.slice(match.index + match[0].length);
      const event = this.#line(line);
      if (event) out.push(event);
    }
    return out;
  }

  #line(line: string): SseEvent | undefined {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.#event = value;
        break;
      case 'data':
        this.#data.push(value);
        this.#hasData = true;
        break;
      case 'id':
        if (!value.includes('\0')) this.#lastId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break;
    }
    return undefined;
  }

  #dispatch(): SseEvent | undefined {
    const event = this.#hasData
      ? { event: this.#event === '' ? 'message' : this.#event, data: this.#data.join('\n'), id: this.#lastId }
      : undefined;
    this.#event = '';
    this.#data = [];
    this.#hasData = false;
    return event;
  }
}

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
      const res = await options.open(parser.lastEventId, options.signal);
      if (!res.body) throw new Error('the event stream has no body');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of parser.push(value)) {
          options.onEvent(event);
          if (event.event === 'end') ended = true;
        }
      }
    } catch (e) {
      if (options.signal.aborted) return;
      options.onError?.(e);
    }
    if (ended) return;
    await delay(parser.retryMs ?? options.defaultRetryMs ?? 2000, options.signal);
  }
}
