/**
 * The rules each step is held to on its own: name, handler, type and batch settings, retry policy, timeout,
 * declared events and inputs (plain JSON only, since they are stored in the database).
 */
import { RETRY_LIMITS } from './retry.js';
import {
  EVENT_NAME_MAX_LENGTH,
  EVENT_NAME_PATTERN,
  HANDLER_MAX_LENGTH,
  STEP_NAME_MAX_LENGTH,
  STEP_NAME_PATTERN,
  type AddIssue,
  type ValidateOptions,
} from './rules.js';
import type { PathSegment } from './path.js';
import {
  BATCH_FAILURE_STRATEGIES,
  EVENT_CONDITIONS,
  EVENT_DELIVERY_MODES,
  STEP_TYPES,
  StepType,
  type BatchConfig,
  type EventDeclaration,
  type RetryPolicy,
  type StepDefinition,
} from './types.js';

/** What checking one step reports to, and the step names seen so far (for duplicates). */
export interface StepCheck {
  add: AddIssue;
  /** Reports an issue about the dependency graph (here: a duplicate name). */
  addGraph: AddIssue;
  /** First index of each step name; a later duplicate is reported and not recorded. */
  indexByName: Map<string, number>;
  opts: ValidateOptions | undefined;
}

/** Checks step `i` on its own and records its name in `check.indexByName`. */
export function checkStep(step: StepDefinition, i: number, check: StepCheck): void {
  const { add, addGraph, indexByName, opts } = check;
  const at = (...rest: PathSegment[]): PathSegment[] => ['steps', i, ...rest];
  const name = step.name;
  if (typeof name !== 'string' || name === '') {
    add(at('name'), 'step name is required');
  } else if (!STEP_NAME_PATTERN.test(name) || name.length > STEP_NAME_MAX_LENGTH) {
    add(
      at('name'),
      `step name '${name}' is invalid: use letters, digits and underscores, not starting with a digit, ` +
        `at most ${STEP_NAME_MAX_LENGTH} characters`,
    );
  }
  if (typeof name === 'string' && name !== '') {
    const first = indexByName.get(name);
    if (first !== undefined) {
      addGraph(at('name'), `duplicate step name '${name}' (first defined at steps[${first}])`);
    } else indexByName.set(name, i);
  }

  if (step.description !== undefined && typeof step.description !== 'string') {
    add(at('description'), 'description must be a string');
  }

  if (typeof step.handler !== 'string' || step.handler.trim() === '') {
    add(at('handler'), `step '${name}' needs a handler name`);
  } else if (step.handler.length > HANDLER_MAX_LENGTH) {
    add(at('handler'), `handler name is longer than ${HANDLER_MAX_LENGTH} characters`);
  } else if (opts?.handlerNames && !opts.handlerNames.has(step.handler)) {
    add(at('handler'), `no handler is registered under '${step.handler}' (used by step '${name}')`);
  }

  if (!STEP_TYPES.includes(step.type)) {
    add(at('type'), `unknown step type '${String(step.type)}'; expected one of ${STEP_TYPES.join(', ')}`);
  } else if (step.type === StepType.BatchWorker) {
    checkBatch(step.batch, at('batch'), add);
  } else if (step.batch !== undefined) {
    add(at('batch'), `only batch_worker steps take batch settings; '${name}' is a ${step.type} step`);
  }

  checkRetry(step.retry, at('retry'), add);

  if (step.timeoutMs !== undefined) {
    if (!Number.isInteger(step.timeoutMs) || step.timeoutMs < 1 || step.timeoutMs > RETRY_LIMITS.maxDelayMs) {
      add(
        at('timeoutMs'),
        `timeout must be a positive whole number of ms, at most ${RETRY_LIMITS.maxDelayMs} ms (about 24.8 days); got ${String(step.timeoutMs)} ms`,
      );
    }
  }

  if (step.publishesEvents !== undefined) checkEvents(step.publishesEvents, at('publishesEvents'), add);

  if (!isPlainObject(step.inputs)) {
    add(at('inputs'), 'inputs must be a mapping of names to values');
  } else {
    const bad = findNonJson(step.inputs, [], new Set());
    if (bad) add(at('inputs', ...bad.path), `inputs must be plain JSON values: ${bad.why}`);
  }
}

/** A batch worker's batch settings. */
function checkBatch(batch: BatchConfig | undefined, at: PathSegment[], add: AddIssue): void {
  if (batch === undefined) {
    add(at, 'a batch_worker step needs batch settings');
    return;
  }
  if (!(BATCH_FAILURE_STRATEGIES as readonly string[]).includes(batch.failureStrategy)) {
    add(
      [...at, 'failureStrategy'],
      `failure strategy must be one of ${BATCH_FAILURE_STRATEGIES.join(', ')} (continue_on_failure = continue); ` +
        `got ${JSON.stringify(batch.failureStrategy)}`,
    );
  }
  if (!Number.isInteger(batch.batchSize) || batch.batchSize < 1 || batch.batchSize > 1_000_000) {
    add(
      [...at, 'batchSize'],
      `batch size must be a whole number from 1 to 1000000; got ${String(batch.batchSize)}`,
    );
  }
  if (!Number.isInteger(batch.maxBatches) || batch.maxBatches < 1 || batch.maxBatches > 10_000) {
    add(
      [...at, 'maxBatches'],
      `max batches must be a whole number from 1 to 10000; got ${String(batch.maxBatches)}`,
    );
  }
}

/** A step's retry policy, against {@link RETRY_LIMITS}. */
function checkRetry(retry: RetryPolicy | undefined, at: PathSegment[], add: AddIssue): void {
  if (typeof retry !== 'object' || retry === null) {
    add(at, 'retry policy is required');
    return;
  }
  if (typeof retry.retryable !== 'boolean') add([...at, 'retryable'], 'retryable must be true or false');
  const { minAttempts, maxAttempts, maxDelayMs } = RETRY_LIMITS;
  if (
    !Number.isInteger(retry.maxAttempts) ||
    retry.maxAttempts < minAttempts ||
    retry.maxAttempts > maxAttempts
  ) {
    add(
      [...at, 'maxAttempts'],
      `max attempts must be a whole number from ${minAttempts} to ${maxAttempts}; got ${String(retry.maxAttempts)}`,
    );
  }
  const delayOk = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= maxDelayMs;
  if (!delayOk(retry.backoffBaseMs)) {
    add(
      [...at, 'backoffBaseMs'],
      `base backoff must be a whole number of ms from 0 to ${maxDelayMs}; got ${String(retry.backoffBaseMs)}`,
    );
  }
  if (!delayOk(retry.maxBackoffMs)) {
    add(
      [...at, 'maxBackoffMs'],
      `max backoff must be a whole number of ms from 0 to ${maxDelayMs}; got ${String(retry.maxBackoffMs)}`,
    );
  } else if (delayOk(retry.backoffBaseMs) && retry.maxBackoffMs < retry.backoffBaseMs) {
    add(
      [...at, 'maxBackoffMs'],
      `max backoff (${retry.maxBackoffMs} ms) is smaller than the base backoff (${retry.backoffBaseMs} ms)`,
    );
  }
  if (
    typeof retry.backoffMultiplier !== 'number' ||
    !Number.isFinite(retry.backoffMultiplier) ||
    retry.backoffMultiplier < 1
  ) {
    add(
      [...at, 'backoffMultiplier'],
      `backoff multiplier must be a number >= 1; got ${String(retry.backoffMultiplier)}`,
    );
  }
  if (
    typeof retry.jitter !== 'number' ||
    !Number.isFinite(retry.jitter) ||
    retry.jitter < 0 ||
    retry.jitter > 1
  ) {
    add([...at, 'jitter'], `jitter must be a fraction from 0 to 1; got ${String(retry.jitter)}`);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Finds the first value that would not survive a JSON round trip into the database unchanged. */
function findNonJson(
  v: unknown,
  path: PathSegment[],
  ancestors: Set<object>,
): { path: PathSegment[]; why: string } | undefined {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(v) ? undefined : { path, why: `${String(v)} is not a JSON number` };
    case 'object': {
      if (v === null) return undefined;
      if (ancestors.has(v)) return { path, why: 'the value contains itself' };
      ancestors.add(v);
      try {
        if (Array.isArray(v)) {
          for (let i = 0; i < v.length; i++) {
            const item: unknown = v[i];
            if (item === undefined) return { path: [...path, i], why: 'undefined is not a JSON value' };
            const bad = findNonJson(item, [...path, i], ancestors);
            if (bad) return bad;
          }
          return undefined;
        }
        if (!isPlainObject(v)) {
          return { path, why: `${v.constructor?.name ?? 'object'} is not a plain object` };
        }
        for (const [k, item] of Object.entries(v)) {
          // An undefined property is simply dropped by JSON, which is what a caller writing `{ a: maybe }` wants.
          if (item === undefined) continue;
          const bad = findNonJson(item, [...path, k], ancestors);
          if (bad) return bad;
        }
        return undefined;
      } finally {
        ancestors.delete(v);
      }
    }
    default:
      return { path, why: `a ${typeof v} is not a JSON value` };
  }
}

/** Declared domain events: valid names, known condition and delivery, each (name, condition) once. */
function checkEvents(events: readonly EventDeclaration[], path: PathSegment[], add: AddIssue): void {
  if (!Array.isArray(events)) {
    add(path, 'publishes_events must be a list of event declarations');
    return;
  }
  const seen = new Set<string>();
  events.forEach((e: EventDeclaration, k: number) => {
    const at = (...rest: PathSegment[]): PathSegment[] => [...path, k, ...rest];
    if (
      typeof e.name !== 'string' ||
      !EVENT_NAME_PATTERN.test(e.name) ||
      e.name.length > EVENT_NAME_MAX_LENGTH
    ) {
      add(
        at('name'),
        `event name ${JSON.stringify(e.name)} is invalid: use dotted lowercase words such as 'payment.processed' ` +
          `(letters, digits, '_'), at most ${EVENT_NAME_MAX_LENGTH} characters`,
      );
    }
    if (!(EVENT_CONDITIONS as readonly string[]).includes(e.condition)) {
      add(
        at('condition'),
        `event condition must be one of ${EVENT_CONDITIONS.join(', ')}; got ${JSON.stringify(e.condition)}`,
      );
    }
    if (!(EVENT_DELIVERY_MODES as readonly string[]).includes(e.delivery)) {
      add(
        at('delivery'),
        `event delivery must be one of ${EVENT_DELIVERY_MODES.join(', ')}; got ${JSON.stringify(e.delivery)}`,
      );
    }
    if (e.publisher !== undefined && (typeof e.publisher !== 'string' || e.publisher.trim() === '')) {
      add(at('publisher'), 'publisher must be the name of a registered event publisher');
    }
    const key = `${String(e.name)}|${String(e.condition)}`;
    if (seen.has(key)) {
      add(at('name'), `event '${String(e.name)}' is declared twice for condition '${String(e.condition)}'`);
    }
    seen.add(key);
  });
}
