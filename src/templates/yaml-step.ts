/**
 * Reading one step of a YAML template into a {@link StepDefinition}, one concern at a time (handler, type, batch
 * configuration, dependencies, retry, timeout, published events), recording where each field came from so
 * that rule violations can be reported against the keys the author wrote.
 */
import type { RetryDefaults } from './retry.js';
import type { PathSegment } from './path.js';
import {
  DEFAULT_BATCH_CONFIG,
  STEP_TYPES,
  StepType,
  type BatchFailureStrategy,
  type EventCondition,
  type EventDeclaration,
  type EventDeliveryMode,
  type StepDefinition,
} from './types.js';
import {
  BATCH_CONFIG_KEYS,
  describe,
  EVENT_KEYS,
  HANDLER_KEYS,
  IGNORED_STEP_KEYS,
  isDict,
  RETRY_KEYS,
  STEP_KEYS,
  STEP_TYPE_ALIASES,
  type Dict,
  type Report,
  type RequireString,
} from './yaml-keys.js';
import type { StepOrigin } from './yaml-origin.js';

/** One step being read: its YAML, the definition and origin being filled in, and where to report. */
interface StepReader {
  raw: Dict;
  step: StepDefinition;
  origin: StepOrigin;
  /** A path under this step as written in the file. */
  y: (...rest: PathSegment[]) => PathSegment[];
  /** The same path over the normalized template (the step's index there, camelCase fields). */
  c: (...rest: PathSegment[]) => PathSegment[];
  report: Report;
  requireString: RequireString;
}

/**
 * Reads the step at `yamlIndex` of the file, which becomes step `index` of the template (they differ once
 * malformed steps are skipped).
 */
export function normalizeStep(
  raw: Dict,
  yamlIndex: number,
  index: number,
  defaults: RetryDefaults,
  report: Report,
  requireString: RequireString,
): { step: StepDefinition; stepOrigin: StepOrigin } {
  const y = (...rest: PathSegment[]): PathSegment[] => ['steps', yamlIndex, ...rest];
  const c = (...rest: PathSegment[]): PathSegment[] => ['steps', index, ...rest];
  const stepOrigin: StepOrigin = {
    yamlIndex,
    handlerShorthand: false,
    typeKey: 'type',
    depsKey: 'depends_on',
    depIndex: [],
    retryKeys: {},
    events: [],
  };

  for (const key of Object.keys(raw)) {
    if (!STEP_KEYS.has(key) && !IGNORED_STEP_KEYS.has(key)) report(y(key), `unknown step key '${key}'`);
  }

  const name = requireString(raw.name, y('name'), c('name'), 'step name');
  const step: StepDefinition = {
    name,
    handler: '',
    type: StepType.Standard,
    dependsOn: [],
    retry: { retryable: true, ...defaults },
    inputs: {},
  };

  if (raw.description !== undefined && raw.description !== null) {
    if (typeof raw.description === 'string') step.description = raw.description;
    else report(y('description'), `description must be a string; got ${describe(raw.description)}`);
  }

  // In this order: issues on one line keep the order they were found in.
  const reader: StepReader = { raw, step, origin: stepOrigin, y, c, report, requireString };
  readHandler(reader);
  readType(reader);
  readBatchConfig(reader);
  readDependencies(reader);
  readRetry(reader);
  readTimeout(reader);
  readEvents(reader);
  return { step, stepOrigin };
}

/** The handler: a name, or a mapping with `callable` (and `initialization`, `method`, `resolver`). */
function readHandler(r: StepReader): void {
  const { raw, step, origin, y, c, report, requireString } = r;
  const handler = raw.handler;
  if (typeof handler === 'string') {
    origin.handlerShorthand = true;
    step.handler = handler;
  } else if (isDict(handler)) {
    for (const key of Object.keys(handler)) {
      if (!HANDLER_KEYS.has(key)) report(y('handler', key), `unknown handler key '${key}'`);
    }
    step.handler = requireString(
      handler.callable,
      y('handler', 'callable'),
      c('handler'),
      'handler.callable',
    );
    const init = handler.initialization;
    if (isDict(init)) step.inputs = init;
    else if (init !== undefined && init !== null) {
      report(
        y('handler', 'initialization'),
        `initialization must be a mapping; got ${describe(init)}`,
        c('inputs'),
      );
    }
    if (handler.method !== undefined && handler.method !== null && handler.method !== 'call') {
      report(
        y('handler', 'method'),
        `handler.method ${describe(handler.method)} is not supported; register a handler under its own name instead`,
      );
    }
    if (handler.resolver !== undefined && handler.resolver !== null && typeof handler.resolver !== 'string') {
      report(y('handler', 'resolver'), `resolver must be a string; got ${describe(handler.resolver)}`);
    }
  } else if (handler === undefined || handler === null) {
    report(
      y('handler'),
      `step '${step.name}' needs a handler (handler: Name, or handler: { callable: Name })`,
      c('handler'),
    );
  } else {
    report(
      y('handler'),
      `handler must be a name or a mapping with 'callable'; got ${describe(handler)}`,
      c('handler'),
    );
  }
}

/** The step type (alias `step_type`), with the reference's other spellings. */
function readType(r: StepReader): void {
  const { raw, step, origin, y, c, report } = r;
  if (Object.hasOwn(raw, 'type') && Object.hasOwn(raw, 'step_type')) {
    report(y('step_type'), "use either 'type' or its alias 'step_type', not both", c('type'));
  } else if (Object.hasOwn(raw, 'step_type')) {
    origin.typeKey = 'step_type';
  }
  const type = raw[origin.typeKey];
  if (type !== undefined && type !== null) {
    const known =
      typeof type === 'string'
        ? (STEP_TYPES.find((t) => t === type) ?? STEP_TYPE_ALIASES.get(type))
        : undefined;
    if (known) step.type = known;
    else {
      report(
        y(origin.typeKey),
        `unknown step type ${describe(type)}; expected one of ${STEP_TYPES.join(', ')}`,
        c('type'),
      );
    }
  }
}

/** A batch worker's `batch_config`: failure_strategy, batch_size, max_batches; the rest is advisory. */
function readBatchConfig(r: StepReader): void {
  const { raw, step, y, report } = r;
  const batch = raw.batch_config;
  if (isDict(batch)) {
    for (const key of Object.keys(batch)) {
      if (!BATCH_CONFIG_KEYS.has(key)) report(y('batch_config', key), `unknown batch_config key '${key}'`);
    }
    const strategy = batch.failure_strategy ?? DEFAULT_BATCH_CONFIG.failureStrategy;
    step.batch = {
      // The reference's default spelling means the same as ours.
      failureStrategy: (strategy === 'continue_on_failure' ? 'continue' : strategy) as BatchFailureStrategy,
      batchSize: (batch.batch_size ?? DEFAULT_BATCH_CONFIG.batchSize) as number,
      maxBatches: (batch.max_batches ?? DEFAULT_BATCH_CONFIG.maxBatches) as number,
    };
  } else if (batch !== undefined && batch !== null) {
    report(y('batch_config'), `batch_config must be a mapping; got ${describe(batch)}`);
  } else if (step.type === StepType.BatchWorker) {
    step.batch = { ...DEFAULT_BATCH_CONFIG };
  }
}

/** The dependencies (alias `depends_on`); a name listed twice counts once. */
function readDependencies(r: StepReader): void {
  const { raw, step, origin, y, report } = r;
  if (Object.hasOwn(raw, 'dependencies') && Object.hasOwn(raw, 'depends_on')) {
    report(y('dependencies'), "use either 'depends_on' or its alias 'dependencies', not both");
  } else if (Object.hasOwn(raw, 'dependencies')) {
    origin.depsKey = 'dependencies';
  }
  const deps = raw[origin.depsKey];
  if (Array.isArray(deps)) {
    const seen = new Set<string>();
    deps.forEach((dep: unknown, j) => {
      if (typeof dep !== 'string') {
        report(y(origin.depsKey, j), `a dependency must be a step name; got ${describe(dep)}`);
      } else if (!seen.has(dep)) {
        // Listing a dependency twice is harmless in a file; keep the first and drop the rest.
        seen.add(dep);
        origin.depIndex.push(j);
        step.dependsOn.push(dep);
      }
    });
  } else if (deps !== undefined && deps !== null) {
    report(y(origin.depsKey), `dependencies must be a list of step names; got ${describe(deps)}`);
  }
}

/** The retry policy: each key onto its field, `limit` as the legacy spelling of `max_attempts`. */
function readRetry(r: StepReader): void {
  const { raw, step, origin, y, c, report } = r;
  const retry = raw.retry;
  if (isDict(retry)) {
    if (Object.hasOwn(retry, 'max_attempts') && Object.hasOwn(retry, 'limit')) {
      report(
        y('retry', 'limit'),
        "'limit' is the legacy spelling of 'max_attempts'; use only 'max_attempts'",
      );
    }
    for (const [key, value] of Object.entries(retry)) {
      const field = RETRY_KEYS.get(key);
      if (field === undefined) {
        report(y('retry', key), `unknown retry key '${key}'`);
        continue;
      }
      if (value === undefined || value === null) continue;
      if (field === 'backoff') {
        if (value !== 'exponential') {
          report(y('retry', key), `backoff ${describe(value)} is not supported; only 'exponential' is`);
        }
        continue;
      }
      if (key === 'limit' && Object.hasOwn(retry, 'max_attempts')) continue;
      if (field === 'retryable') {
        if (typeof value === 'boolean') step.retry.retryable = value;
        else {
          report(
            y('retry', key),
            `retryable must be true or false; got ${describe(value)}`,
            c('retry', field),
          );
        }
        continue;
      }
      origin.retryKeys[field] = key;
      if (typeof value === 'number') step.retry[field] = value;
      else report(y('retry', key), `${key} must be a number; got ${describe(value)}`, c('retry', field));
    }
  } else if (retry !== undefined && retry !== null) {
    report(y('retry'), `retry must be a mapping; got ${describe(retry)}`, c('retry'));
  }
}

/** `timeout_seconds`, kept as milliseconds. */
function readTimeout(r: StepReader): void {
  const { raw, step, y, c, report } = r;
  const timeout = raw.timeout_seconds;
  if (typeof timeout === 'number') {
    step.timeoutMs = Math.round(timeout * 1000);
  } else if (timeout !== undefined && timeout !== null) {
    report(
      y('timeout_seconds'),
      `timeout_seconds must be a number; got ${describe(timeout)}`,
      c('timeoutMs'),
    );
  }
}

/** The events the step publishes (`publishes_events`). */
function readEvents(r: StepReader): void {
  const { raw, step, origin, y, report } = r;
  const events = raw.publishes_events;
  if (Array.isArray(events)) {
    const declared: EventDeclaration[] = [];
    events.forEach((e: unknown, k) => {
      if (!isDict(e)) {
        report(
          y('publishes_events', k),
          `an event declaration must be a mapping with a name; got ${describe(e)}`,
        );
        return;
      }
      for (const key of Object.keys(e)) {
        if (!EVENT_KEYS.has(key)) report(y('publishes_events', k, key), `unknown event key '${key}'`);
      }
      if (Object.hasOwn(e, 'delivery') && Object.hasOwn(e, 'delivery_mode')) {
        report(y('publishes_events', k), "use either 'delivery_mode' or its alias 'delivery', not both");
      }
      const declaration: EventDeclaration = {
        name: e.name as string,
        condition: (e.condition ?? 'success') as EventCondition,
        delivery: (e.delivery_mode ?? e.delivery ?? 'durable') as EventDeliveryMode,
      };
      if (typeof e.description === 'string') declaration.description = e.description;
      if (e.publisher !== undefined && e.publisher !== null) declaration.publisher = e.publisher as string;
      origin.events.push([k, Object.hasOwn(e, 'delivery') ? 'delivery' : 'delivery_mode']);
      declared.push(declaration);
    });
    if (declared.length > 0) step.publishesEvents = declared;
  } else if (events !== undefined && events !== null) {
    report(
      y('publishes_events'),
      `publishes_events must be a list of event declarations; got ${describe(events)}`,
    );
  }
}
