import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_JSON_DEPTH, jsonTextExceedsDepth, valueExceedsDepth } from '../../src/json-depth.js';
import {
  capRecordedError,
  cappedErrorText,
  DEFAULT_ERROR_LIMITS,
  errorLimitsOf,
  stackFrames,
  truncateUtf8,
} from '../../src/worker/error-record.js';
import { testConfig } from '../support/engine.js';

describe('truncateUtf8', () => {
  it('leaves text within the limit unchanged', () => {
    expect(truncateUtf8('héllo', 6)).toBe('héllo');
    expect(truncateUtf8('', 64)).toBe('');
  });

  it('cuts to the limit, marker included, and says how many bytes were cut', () => {
    const out = truncateUtf8('a'.repeat(100_000), 100);
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(100);
    expect(out).toMatch(/^a+… \[truncated [\d,]+ bytes\]$/);
    const kept = out.indexOf('…');
    expect(out).toContain(`[truncated ${(100_000 - kept).toLocaleString('en-US')} bytes]`);
  });

  it('never splits a multi-byte character, at any limit', () => {
    const text = '€😀é'.repeat(50);
    for (let max = 40; max < 120; max++) {
      const out = truncateUtf8(text, max);
      expect(Buffer.byteLength(out), `max ${max}`).toBeLessThanOrEqual(max);
      expect(out, `max ${max}`).not.toContain('\uFFFD');
      const head = out.slice(0, out.indexOf('…'));
      expect(text.startsWith(head), `max ${max}`).toBe(true);
    }
  });
});

describe('stackFrames', () => {
  it('drops the `Name: message` header of a V8 stack', () => {
    const err = new Error('something broke\nover two lines');
    const frames = stackFrames(err.stack!, err.message);
    expect(frames).toMatch(/^\s+at /);
    expect(frames).not.toContain('something broke');
    expect(frames).not.toContain('over two lines');
  });

  it('works when the name was changed after the stack was captured', () => {
    const err = new Error('gone');
    err.name = 'HandlerNotFound';
    expect(stackFrames(err.stack!, err.message)).toMatch(/^\s+at /);
  });

  it('keeps a stack without a recognisable header', () => {
    expect(stackFrames('custom trace', 'unrelated')).toBe('custom trace');
  });
});

describe('cappedErrorText', () => {
  it('caps message and stack separately and stores no stack when the cap is 0', () => {
    const err = new Error('x'.repeat(10_000));
    const capped = cappedErrorText(err, { maxMessageBytes: 200, maxStackBytes: 100 });
    expect(Buffer.byteLength(capped.message)).toBeLessThanOrEqual(200);
    expect(Buffer.byteLength(capped.stack!)).toBeLessThanOrEqual(100);
    expect(capped.stack).not.toContain('xxxx');
    expect(cappedErrorText(err, { maxMessageBytes: 200, maxStackBytes: 0 })).not.toHaveProperty('stack');
  });
});

describe('capRecordedError', () => {
  const limits = { maxMessageBytes: 100, maxStackBytes: 100 };

  it('leaves a success record as it is', () => {
    const record: { success: boolean; result: unknown; error?: { message: string } } = {
      success: true,
      result: { big: 'x'.repeat(1000) },
    };
    expect(capRecordedError(record, limits)).toBe(record);
  });

  it('caps message, stack, name and code, keeping the other fields', () => {
    const err = new Error('m'.repeat(1000));
    const record = {
      success: false,
      error: {
        name: 'N'.repeat(1000),
        code: 'C'.repeat(1000),
        message: err.message,
        stack: err.stack!,
        retryable: true,
      },
    };
    const capped = capRecordedError(record, limits);
    for (const field of ['name', 'code', 'message', 'stack'] as const) {
      expect(Buffer.byteLength(capped.error[field]), field).toBeLessThanOrEqual(100);
      expect(capped.error[field], field).toMatch(/… \[truncated [\d,]+ bytes\]$/);
    }
    expect(capped.error.retryable).toBe(true);
    expect(capped.error.stack).not.toContain('mmm');
    // The input is not modified.
    expect(record.error.message).toHaveLength(1000);
  });
});

describe('JSON depth', () => {
  it('counts containers in text, ignoring brackets inside strings', () => {
    expect(jsonTextExceedsDepth('{"a":[1]}', 2)).toBe(false);
    expect(jsonTextExceedsDepth('{"a":[[1]]}', 2)).toBe(true);
    expect(jsonTextExceedsDepth('{"a":"[[[[\\"[[["}', 1)).toBe(false);
    expect(jsonTextExceedsDepth('['.repeat(100_000), 128)).toBe(true);
  });

  it('counts containers in values, without recursion and without following cycles', () => {
    expect(valueExceedsDepth({ a: [1] }, 2)).toBe(false);
    expect(valueExceedsDepth({ a: [[1]] }, 2)).toBe(true);
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(valueExceedsDepth(deep, 128)).toBe(true);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    cyclic.again = cyclic;
    // A cycle is not depth (JSON.stringify reports it as circular), and walking it ends.
    expect(valueExceedsDepth(cyclic, 128)).toBe(false);
    expect(valueExceedsDepth({ a: { b: cyclic } }, 2)).toBe(true);
    // A shared sub-object reached at two depths is judged at the deeper one (root, b, c, shared, x = 5).
    const shared = { x: [1] };
    expect(valueExceedsDepth({ a: shared, b: { c: { d: shared } } }, 4)).toBe(true);
    expect(valueExceedsDepth({ a: shared, b: { c: { d: shared } } }, 5)).toBe(false);
  });
});

describe('defaults', () => {
  it('the built-in defaults agree with config/tasker/base', () => {
    const config = testConfig('postgresql://unused/db');
    expect(errorLimitsOf(config.worker)).toEqual(DEFAULT_ERROR_LIMITS);
    expect(config.orchestration.api.max_json_depth).toBe(DEFAULT_MAX_JSON_DEPTH);
    expect(config.worker.max_result_depth).toBe(DEFAULT_MAX_JSON_DEPTH);
  });
});
