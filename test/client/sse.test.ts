import { describe, expect, it } from 'vitest';
import { readSseStream, SseParser, type SseEvent } from '../../src/client/sse.js';

function parseAll(chunks: string[]): { events: SseEvent[]; parser: SseParser; comments: string[] } {
  const comments: string[] = [];
  const parser = new SseParser({ onComment: (c) => comments.push(c) });
  const events = chunks.flatMap((c) => parser.feed(c));
  return { events, parser, comments };
}

describe('SseParser', () => {
  it('parses event, id and data fields; a blank line dispatches', () => {
    const { events, parser } = parseAll(['id: 1\nevent: transition\ndata: {"a":1}\n\n']);
    expect(events).toEqual([{ event: 'transition', data: '{"a":1}', id: '1', lastEventId: '1' }]);
    expect(parser.lastEventId).toBe('1');
  });

  it('joins multi-line data with \\n and defaults the event type to message', () => {
    const { events } = parseAll(['data: first\ndata: second\ndata:\ndata:  indented\n\n']);
    expect(events).toEqual([
      { event: 'message', data: 'first\nsecond\n\n indented', id: undefined, lastEventId: '' },
    ]);
  });

  it('reports comments and never dispatches them', () => {
    const { events, comments } = parseAll([': keep-alive\n\n:no space\n\ndata: x\n\n']);
    expect(comments).toEqual(['keep-alive', 'no space']);
    expect(events.map((e) => e.data)).toEqual(['x']);
  });

  it('handles any chunking, including a CRLF split across chunks and CR-only line ends', () => {
    const text = 'id: a\r\nevent: e\r\ndata: 1\r\n\r\nid: b\rdata: 2\r\rdata: 3\n\n';
    const whole = parseAll([text]).events;
    expect(whole).toEqual([
      { event: 'e', data: '1', id: 'a', lastEventId: 'a' },
      { event: 'message', data: '2', id: 'b', lastEventId: 'b' },
      { event: 'message', data: '3', id: undefined, lastEventId: 'b' },
    ]);
    for (let size = 1; size <= text.length; size++) {
      const chunks: string[] = [];
      for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
      expect(parseAll(chunks).events, `chunk size ${size}`).toEqual(whole);
    }
  });

  it('drops one leading space only; a field without a colon has an empty value; unknown fields are ignored', () => {
    const { events } = parseAll(['data:  two spaces\nfoo: bar\nevent\ndata\n\n']);
    expect(events).toEqual([{ event: 'message', data: ' two spaces\n', id: undefined, lastEventId: '' }]);
  });

  it('does not dispatch an event without data, but its id still counts', () => {
    const { events, parser } = parseAll(['id: 7\nevent: ping\n\ndata: after\n\n']);
    expect(events).toEqual([{ event: 'message', data: 'after', id: undefined, lastEventId: '7' }]);
    expect(parser.lastEventId).toBe('7');
  });

  it('ignores ids containing NUL and accepts an empty id (which resets it)', () => {
    const { events } = parseAll(['id: ok\ndata: 1\n\nid: bad\0id\ndata: 2\n\nid\ndata: 3\n\n']);
    expect(events.map((e) => [e.id, e.lastEventId])).toEqual([
      ['ok', 'ok'],
      [undefined, 'ok'],
      ['', ''],
    ]);
  });

  it('takes retry values made of digits only', () => {
    const parser = new SseParser();
    parser.feed('retry: 2000\n\n');
    expect(parser.retryMs).toBe(2000);
    parser.feed('retry: 5s\n\nretry: -1\n\n');
    expect(parser.retryMs).toBe(2000);
  });

  it('strips a leading byte order mark and discards an unfinished event at the end', () => {
    const parser = new SseParser();
    expect(parser.feed('\uFEFFdata: a\n\ndata: unfinished')).toEqual([
      { event: 'message', data: 'a', id: undefined, lastEventId: '' },
    ]);
    parser.end();
    expect(parser.feed('\n\n')).toEqual([]);
  });

  it('readSseStream decodes UTF-8 split across byte chunks', async () => {
    const bytes = new TextEncoder().encode('event: t\ndata: héllo ✓\n\n');
    async function* body(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < bytes.length; i += 3) {
        // Chunks arrive on later ticks, as from a socket.
        await new Promise((r) => setImmediate(r));
        yield bytes.slice(i, i + 3);
      }
    }
    const events: SseEvent[] = [];
    for await (const e of readSseStream(body())) events.push(e);
    expect(events).toEqual([{ event: 't', data: 'héllo ✓', id: undefined, lastEventId: '' }]);
  });
});
