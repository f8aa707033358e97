/**
 * Handlers for the example workflows in ./templates. `npm run dev` loads these; they are also a template for
 * writing your own: a handler is a named async function of the step context.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PermanentError, RetryableError, batchResults, batches, decide, defineHandler } from 'tasker';

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

// ---- conditional approval (a decision point and a deferred convergence) ----

interface ExpenseRequest {
  request_id: string;
  employee: string;
  amount: number;
  purpose?: string;
}

export const validateRequest = defineHandler('approvals.validate_request', (ctx) => {
  const r = ctx.context as unknown as ExpenseRequest;
  if (typeof r.amount !== 'number' || !(r.amount > 0)) {
    throw new PermanentError('an expense request needs a positive amount');
  }
  if (typeof r.employee !== 'string' || r.employee === '') throw new PermanentError('who is asking?');
  return { request_id: r.request_id, amount: r.amount };
});

export const routeByAmount = defineHandler('approvals.route_by_amount', (ctx) => {
  const { amount } = ctx.dependencyResults.validate_request as { amount: number };
  const autoLimit = Number(ctx.inputs.auto_limit ?? 1000);
  const financeLimit = Number(ctx.inputs.finance_limit ?? 5000);
  if (amount < autoLimit) return decide(['auto_approve'], { amount, rule: `below ${autoLimit}` });
  if (amount < financeLimit) return decide(['manager_approval'], { amount, rule: `below ${financeLimit}` });
  return decide(['manager_approval', 'finance_review'], { amount, rule: `${financeLimit} or more` });
});

export const autoApprove = defineHandler('approvals.auto_approve', () => ({ approved: true, by: 'policy' }));

export const managerApproval = defineHandler('approvals.manager_approval', (ctx) => ({
  approved: true,
  by: `manager of ${String(ctx.context.employee)}`,
}));

export const financeReview = defineHandler('approvals.finance_review', (ctx) => {
  const { amount } = ctx.dependencyResults.validate_request as { amount: number };
  return { approved: amount < 50_000, by: 'finance' };
});

export const finalizeApproval = defineHandler('approvals.finalize_approval', (ctx) => {
  const approvals = ['auto_approve', 'manager_approval', 'finance_review'].filter(
    (name) => name in ctx.dependencyResults,
  );
  const approved = approvals.every((name) => (ctx.dependencyResults[name] as { approved: boolean }).approved);
  return { request_id: ctx.context.request_id, approved, approvals };
});

// ---- CSV processing (a batchable step, batch workers with checkpoints, a convergence step) ----

interface SaleRow {
  region: string;
  quantity: number;
  unitPrice: number;
}

const csvCache = new Map<string, SaleRow[]>();

/** Reads (once per process) a CSV of `order_id,region,product,quantity,unit_price` rows, relative to examples/. */
function readSales(file: string): SaleRow[] {
  const cached = csvCache.get(file);
  if (cached) return cached;
  const path = fileURLToPath(new URL(file, import.meta.url));
  const [, ...lines] = readFileSync(path, 'utf8').trim().split('\n');
  const rows = lines.map((line, i) => {
    const [, region, , quantity, unitPrice] = line.split(',');
    if (!region || quantity === undefined || unitPrice === undefined) {
      throw new PermanentError(`${file}: row ${i + 2} is malformed`);
    }
    return { region, quantity: Number(quantity), unitPrice: Number(unitPrice) };
  });
  csvCache.set(file, rows);
  return rows;
}

function csvFile(context: Record<string, unknown>): string {
  return typeof context.file === 'string' ? context.file : 'data/sales.csv';
}

export const analyzeCsv = defineHandler('csv.analyze', (ctx) => {
  const file = csvFile(ctx.context);
  const rows = readSales(file);
  // Batch size comes from the template's batch_config (200): 1,000 rows make 5 batches.
  return batches({ totalItems: rows.length }, { file });
});

export const processRows = defineHandler('csv.process_rows', async (ctx) => {
  const batch = ctx.batch;
  if (!batch) throw new PermanentError('csv.process_rows runs as a batch worker');
  const rows = readSales(csvFile(ctx.context));
  const every = Number(ctx.inputs.checkpoint_every ?? 100);
  // Resume from the last checkpoint of an earlier attempt, with the totals saved so far.
  const byRegion: Record<string, number> = {
    ...((batch.checkpoint?.byRegion as Record<string, number>) ?? {}),
  };
  for (let i = batch.resumeFrom; i < batch.end; i += 1) {
    const row = rows[i]!;
    byRegion[row.region] =
      Math.round(((byRegion[row.region] ?? 0) + row.quantity * row.unitPrice) * 100) / 100;
    const next = i + 1;
    if ((next - batch.start) % every === 0 && next < batch.end) {
      await ctx.checkpoint({ cursor: next, byRegion });
    }
  }
  return { batch: batch.index, rows: batch.end - batch.start, byRegion };
});

export const aggregateResults = defineHandler('csv.aggregate_results', (ctx) => {
  const results = batchResults<{ rows: number; byRegion: Record<string, number> }>(ctx, 'process_rows');
  const revenueByRegion: Record<string, number> = {};
  for (const r of results) {
    for (const [region, revenue] of Object.entries(r.result?.byRegion ?? {})) {
      revenueByRegion[region] = Math.round(((revenueByRegion[region] ?? 0) + revenue) * 100) / 100;
    }
  }
  return {
    batches: results.length,
    rows: results.reduce((n, r) => n + (r.result?.rows ?? 0), 0),
    revenue_by_region: Object.fromEntries(Object.entries(revenueByRegion).sort()),
  };
});
