import type { Logger } from 'pino';

/** What a handler receives for one attempt of one step. */
export interface StepContext<TContext extends Record<string, unknown> = Record<string, unknown>> {
  taskUuid: string;
  stepUuid: string;
  stepName: string;
  namespace: string;
  templateName: string;
  templateVersion: string;
  correlationId: string;
  /** The task's input, exactly as given at creation. */
  context: TContext;
  /** The step's static inputs from the template (`handler.initialization`). */
  inputs: Record<string, unknown>;
  /** Results of every ancestor step, by step name (each is what that step's handler returned). */
  dependencyResults: Record<string, unknown>;
  /** 1 on the first execution, 2 on the first retry, ... */
  attempt: number;
  maxAttempts: number;
  /** Fires when the step times out, is cancelled, or the worker shuts down: stop work and return or throw. */
  signal: AbortSignal;
  logger: Logger;
}

/** A step handler: returns the step's result (any JSON value) or throws. */
export type StepHandlerFn<
  TContext extends Record<string, unknown> = Record<string, unknown>,
  TResult = unknown,
> = (ctx: StepContext<TContext>) => Promise<TResult> | TResult;

/** A named handler, as registered with a worker. */
export interface HandlerDefinition {
  readonly name: string;
  readonly fn: StepHandlerFn;
}

const HANDLER_NAME = /^[A-Za-z_][A-Za-z0-9_.:/-]{0,499}$/;

/**
 * Defines a step handler. `name` is what templates reference as the step's handler (`handler.callable`).
 *
 * @example
 * export const charge = defineHandler('payments.charge', async (ctx) => {
 *   const order = ctx.dependencyResults.validate_order as { total: number };
 *   return { charged: order.total };
 * });
 */
export function defineHandler<
  TContext extends Record<string, unknown> = Record<string, unknown>,
  TResult = unknown,
>(name: string, fn: StepHandlerFn<TContext, TResult>): HandlerDefinition {
  if (!HANDLER_NAME.test(name)) {
    throw new TypeError(`invalid handler name '${name}': use letters, digits and . _ : / - (max 500)`);
  }
  if (typeof fn !== 'function') throw new TypeError(`handler '${name}' must be a function`);
  return Object.freeze({ name, fn: fn as StepHandlerFn });
}

/** Handlers by name. Registering two different functions under one name is an error. */
export class HandlerRegistry {
  readonly #handlers = new Map<string, HandlerDefinition>();

  constructor(handlers: Iterable<HandlerDefinition> = []) {
    for (const h of handlers) this.register(h);
  }

  register(handler: HandlerDefinition): void {
    const existing = this.#handlers.get(handler.name);
    if (existing && existing.fn !== handler.fn) {
      throw new TypeError(`handler '${handler.name}' is registered twice with different functions`);
    }
    this.#handlers.set(handler.name, handler);
  }

  get(name: string): HandlerDefinition | undefined {
    return this.#handlers.get(name);
  }

  has(name: string): boolean {
    return this.#handlers.has(name);
  }

  names(): ReadonlySet<string> {
    return new Set(this.#handlers.keys());
  }

  get size(): number {
    return this.#handlers.size;
  }
}

/** Collects handler definitions from a module's exports (any export that is a HandlerDefinition, or arrays). */
export function handlersFromModule(mod: Record<string, unknown>): HandlerDefinition[] {
  const found: HandlerDefinition[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      v.forEach(visit);
    } else if (
      v !== null &&
      typeof v === 'object' &&
      typeof (v as HandlerDefinition).name === 'string' &&
      typeof (v as HandlerDefinition).fn === 'function'
    ) {
      found.push(v as HandlerDefinition);
    }
  };
  Object.values(mod).forEach(visit);
  return found;
}
