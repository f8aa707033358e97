import { describe, expect, it } from 'vitest';
import { Aborter } from '../../src/worker/aborter.js';

describe('Aborter', () => {
  it('tells each listener once, with the reason, and only the first abort counts', () => {
    const a = new Aborter();
    const heard: unknown[] = [];
    a.onAbort((r) => heard.push(['first', r]));
    const off = a.onAbort((r) => heard.push(['removed', r]));
    off();
    expect(a.aborted).toBe(false);
    const reason = new Error('stop');
    a.abort(reason);
    a.abort(new Error('again'));
    expect(a.aborted).toBe(true);
    expect(a.reason).toBe(reason);
    expect(heard).toEqual([['first', reason]]);
    // a listener added afterwards hears at once
    a.onAbort((r) => heard.push(['late', r]));
    expect(heard.at(-1)).toEqual(['late', reason]);
  });

  it('gives a signal that follows it, made before or after the abort', () => {
    const before = new Aborter();
    const signal = before.signal;
    expect(signal.aborted).toBe(false);
    let fired: unknown;
    signal.addEventListener('abort', () => {
      fired = signal.reason as unknown;
    });
    before.abort('why');
    expect(signal.aborted).toBe(true);
    expect(fired).toBe('why');
    expect(before.signal).toBe(signal);

    const after = new Aborter();
    after.abort('late');
    expect(after.signal.aborted).toBe(true);
    expect(after.signal.reason).toBe('late');
  });

  it('aborts with an AbortError when given no reason, as AbortController does', () => {
    const a = new Aborter();
    a.abort();
    expect(a.reason).toBeInstanceOf(DOMException);
    expect((a.reason as DOMException).name).toBe('AbortError');
  });
});
