/**
 * A Server-Sent Events parser following the WHATWG "event stream interpretation" rules: lines end in CRLF,
 * LF or CR (also when a CRLF is split across chunks); `:` starts a comment; `field: value` drops one leading
 * space; `data` lines join with `\n`; a blank line dispatches; an event with no data is not dispatched;
 * `id` values containing NUL are ignored; `retry` takes digits only. Pure: no I/O, fed with decoded text.
 */

/** One dispatched event. */
export interface SseEvent {
  /** The `event` field, `message` when absent. */
  event: string;
  /** The `data` lines joined with `\n`. */
  data: string;
  /**
   * The `id` field of this very event, if it had one. Unlike {@link lastEventId} it does not carry over from
   * earlier events, so it is what to deduplicate on.
   */
  id: string | undefined;
  /** The stream's last event id when this event was dispatched (carries over, as browsers report it). */
  lastEventId: string;
}

/** Incremental parser; feed it text in any chunking and collect the events. */
export class SseParser {
  #buffer = '';
  /** A chunk ended in CR: a LF at the start of the next chunk belongs to the same line break. */
  #pendingCr = false;
  #started = false;
  #data: string[] = [];
  #event = '';
  #id: string | undefined;
  #lastEventId = '';
  #retryMs: number | undefined;
  readonly #onComment: ((text: string) => void) | undefined;

  /** @param onComment called with the text of each comment line (keep-alives), without the colon. */
  constructor(options: { onComment?: (text: string) => void } = {}) {
    this.#onComment = options.onComment;
  }

  /** The last `id` seen (what to send as `Last-Event-ID` when reconnecting); empty when none. */
  get lastEventId(): string {
    return this.#lastEventId;
  }

  /** The last valid `retry` value in ms (the server's suggested reconnection delay), if any. */
  get retryMs(): number | undefined {
    return this.#retryMs;
  }

  /** Parses a chunk and returns the events it completed. */
  feed(chunk: string): SseEvent[] {
    let text = chunk;
    if (!this.#started && text.length > 0) {
      this.#started = true;
      // A byte order mark may only appear at the very start of the stream.
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.#pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.#pendingCr = false;
    this.#buffer += text;

    const events: SseEvent[] = [];
    let start = 0;
    for (;;) {
      const cr = this.#buffer.indexOf('\r', start);
      const lf = this.#buffer.indexOf('\n', start);
      if (cr === -1 && lf === -1) break;
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      const line = this.#buffer.slice(start, end);
      if (this.#buffer[end] === '\r') {
        if (end + 1 < this.#buffer.length) {
          start = this.#buffer[end + 1] === '\n' ? end + 2 : end + 1;
        } else {
          // The LF of a CRLF may arrive in the next chunk.
          this.#pendingCr = true;
          start = end + 1;
        }
      } else {
        start = end + 1;
      }
      const event = this.#line(line);
      if (event) events.push(event);
    }
    this.#buffer = this.#buffer.slice(start);
    return events;
  }

  /**
   * Ends the stream. Per the standard an incomplete event (no blank line yet) is discarded; the parser is
   * reset for a new connection, keeping `lastEventId` and `retryMs`.
   */
  end(): void {
    this.#buffer = '';
    this.#pendingCr = false;
    this.#started = false;
    this.#data = [];
    this.#event = '';
    this.#id = undefined;
  }

  #line(line: string): SseEvent | undefined {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) {
      this.#onComment?.(line.slice(1).replace(/^ /, ''));
      return undefined;
    }
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
        break;
      case 'id':
        if (!value.includes('\0')) {
          this.#id = value;
          this.#lastEventId = value;
        }
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.#retryMs = Number(value);
        break;
      default:
        // Unknown fields are ignored, as the standard requires.
        break;
    }
    return undefined;
  }

  #dispatch(): SseEvent | undefined {
    const data = this.#data;
    const event = this.#event;
    const id = this.#id;
    this.#data = [];
    this.#event = '';
    this.#id = undefined;
    if (data.length === 0) return undefined;
    return {
      event: event === '' ? 'message' : event,
      data: data.join('\n'),
      id,
      lastEventId: this.#lastEventId,
    };
  }
}

/**
 * Reads a byte stream (a fetch response body) as events. Ends when the stream ends; an incomplete trailing
 * event is dropped.
 */
export async function* readSseStream(
  body: AsyncIterable<Uint8Array>,
  parser: SseParser = new SseParser(),
): AsyncGenerator<SseEvent, void, undefined> {
  const decoder = new TextDecoder('utf-8');
  try {
    for await (const chunk of body) {
      yield* parser.feed(decoder.decode(chunk, { stream: true }));
    }
    yield* parser.feed(decoder.decode());
  } finally {
    parser.end();
  }
}
