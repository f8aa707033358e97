/**
 * Wire schemas of the health endpoints: liveness, readiness and the detailed report.
 */
import { z } from 'zod';

/** `GET /health/live`. */
export const liveBody = z.object({ status: z.literal('ok') }).meta({ id: 'Live' });
export type LiveBody = z.infer<typeof liveBody>;

const checkBody = z.object({
  ok: z.boolean(),
  message: z.string().optional(),
});

/** `GET /health/ready` (200 when ready, 503 when not). */
export const readyBody = z
  .object({
    status: z.enum(['ready', 'not_ready']),
    checks: z.object({ database: checkBody, migrations: checkBody }),
  })
  .meta({ id: 'Ready' });
export type ReadyBody = z.infer<typeof readyBody>;

/** Stats of one in-process channel. */
export const channelHealthBody = z
  .object({
    name: z.string(),
    capacity: z.number().int(),
    depth: z.number().int(),
    high_water_mark: z.number().int(),
    saturation: z.number().describe('depth / capacity, 0..1.'),
    dropped: z.number().int(),
    blocked_sends: z.number().int(),
    closed: z.boolean(),
  })
  .meta({ id: 'ChannelHealth' });

/** `GET /health`: detailed health (200 when healthy or degraded, 503 when unhealthy). */
export const healthBody = z
  .object({
    status: z.enum(['healthy', 'degraded', 'unhealthy']),
    degraded_reasons: z
      .array(z.string())
      .describe(
        'Why the process is degraded beyond what the other fields show: its engine writes keep failing, or ' +
          'abandoned handlers still run.',
      ),
    processor_id: z.string().nullable(),
    database: z.object({
      ok: z.boolean(),
      latency_ms: z.number().nullable(),
      message: z.string().optional(),
    }),
    migrations: checkBody,
    pool: z.object({
      total: z.number().int(),
      idle: z.number().int(),
      waiting: z.number().int(),
      acquire_p50_ms: z.number().nullable(),
      acquire_p95_ms: z.number().nullable(),
      acquire_p99_ms: z.number().nullable(),
      slow_acquires: z.number().int().nullable(),
    }),
    channels: z.array(channelHealthBody),
    backpressure: z.object({
      overloaded: z.boolean(),
      reason: z.string().nullable(),
      results_queue_depth: z.number().int().nullable(),
    }),
    circuit_breakers: z.array(
      z.object({
        name: z.string(),
        state: z.enum(['closed', 'open', 'half_open']),
        times_opened: z.number().int(),
      }),
    ),
    event_loop: z.object({ delay_p50_ms: z.number(), delay_p99_ms: z.number() }),
    uptime_seconds: z.number(),
  })
  .meta({ id: 'Health' });
export type HealthBody = z.infer<typeof healthBody>;
