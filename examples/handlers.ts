/**
 * Handlers for the example workflows in ./templates. `npm run dev` loads these; they are also a template for
 * writing your own: a handler is a named async function of the step context.
 */
import { PermanentError, RetryableError, defineHandler } from '../src/index.js';

interface NumberResult {
  value: number;
}

function parentValue(results: Record<string, unknown>, name: string): number {
  const r = results[name] as NumberResult | undefined;
  if (!r || typeof r.value !== 'number') {
    throw new PermanentError(`dependency '${name}' has no numeric value`);
  }
  return r.value;
}

export const squareContext = defineHandler('math.square_context', (ctx) => {
  const field = typeof ctx.inputs.field === 'string' ? ctx.inputs.field : 'even_number';
  const n = ctx.context[field];
  if (typeof n !== 'number') throw new PermanentError(`context.${field} must be a number`);
  return { value: n * n };
});

export const squareParent = defineHandler('math.square_parent', (ctx) => {
  const v = parentValue(ctx.dependencyResults, String(ctx.inputs.source));
  return { value: v * v };
});

export const cubeParent = defineHandler('math.cube_parent', (ctx) => {
  const v = parentValue(ctx.dependencyResults, String(ctx.inputs.source));
  return { value: v * v * v };
});

export const sumParents = defineHandler('math.sum_parents', (ctx) => {
  const sources = ctx.inputs.sources as string[];
  return { value: sources.reduce((sum, s) => sum + parentValue(ctx.dependencyResults, s), 0) };
});

interface OrderItem {
  sku: string;
  quantity: number;
  price: number;
}

export const validateOrder = defineHandler('ecommerce.validate_order', (ctx) => {
  const items = ctx.context.items as OrderItem[] | undefined;
  if (!Array.isArray(items) || items.length === 0) {
    throw new PermanentError('an order needs at least one item');
  }
  const total = items.reduce((sum, i) => sum + i.quantity * i.price, 0);
  return { order_id: ctx.context.order_id, total, item_count: items.length };
});

export const reserveInventory = defineHandler('ecommerce.reserve_inventory', (ctx) => {
  const items = ctx.context.items as OrderItem[];
  return {
    reservation_id: `res-${String(ctx.context.order_id)}`,
    warehouse: ctx.inputs.warehouse,
    reserved: items.map((i) => ({ sku: i.sku, quantity: i.quantity })),
  };
});

export const processPayment = defineHandler('ecommerce.process_payment', (ctx) => {
  // The demo gateway is "temporarily unavailable" on the first attempt of every order.
  if (ctx.attempt === 1) {
    throw new RetryableError('payment gateway unavailable (503)', { retryAfterMs: 100, code: 'GATEWAY_503' });
  }
  const { total } = ctx.dependencyResults.validate_order as { total: number };
  return { payment_id: `pay-${String(ctx.context.order_id)}`, amount_charged: total, attempt: ctx.attempt };
});

export const shipOrder = defineHandler('ecommerce.ship_order', (ctx) => {
  const payment = ctx.dependencyResults.process_payment as { payment_id: string };
  return { tracking_number: `TRK-${String(ctx.context.order_id)}`, payment_id: payment.payment_id };
});

/** Every example handler. */
export const exampleHandlers = [
  squareContext,
  squareParent,
  cubeParent,
  sumParents,
  validateOrder,
  reserveInventory,
  processPayment,
  shipOrder,
];
