/**
 * The `[orchestration]` section (`orchestration.toml`): the orchestration process, with its REST API and the
 * API's authentication and permissions.
 */
import { z } from 'zod';
import { MAX_JSON_DEPTH_LIMIT } from '../json-depth.js';
import { channelSchema, DAY_MS, HOUR_MS, int, num } from './schema-parts.js';

/** Permissions an API principal can hold; `*` grants every permission. */
export const API_PERMISSIONS = [
  'tasks:create',
  'tasks:read',
  'tasks:cancel',
  'steps:read',
  'steps:resolve',
  'templates:read',
  'templates:write',
  'dlq:read',
  'dlq:update',
  'system:read',
] as const;

const apiKeySchema = z
  .strictObject({
    name: z.string().min(1).describe('Name of the key, shown in logs and audit rows (never the key itself).'),
    key: z
      .string()
      .describe(
        'The secret sent in the `X-API-Key` header. An empty value disables the entry (e.g. an unset ${VAR:-}).',
      ),
    permissions: z
      .array(z.enum([...API_PERMISSIONS, '*']))
      .describe('Permissions granted to this key; `*` grants all of them.'),
  })
  .describe('One API key.');

const apiSchema = z
  .strictObject({
    enabled: z.boolean().describe('Serve the REST API from the orchestration process.'),
    host: z.string().min(1).describe('Address the API listens on.'),
    port: int(0, 65_535, 'Port the API listens on (0 = any free port).'),
    body_limit_bytes: int(
      1024,
      1024 * 1024 * 1024,
      'Largest request body accepted; a larger one is refused with 413 before it is parsed.',
    ),
    max_json_depth: int(
      1,
      MAX_JSON_DEPTH_LIMIT,
      'Deepest nesting of objects and arrays accepted in a JSON request body; a deeper body is refused with ' +
        '400 `JSON_TOO_DEEP` before it is parsed. Task contexts created through the library get the same check.',
    ),
    request_timeout_ms: int(
      0,
      HOUR_MS,
      'Time limit of one request, in ms (0 = none; event streams are exempt).',
    ),
    bulk_max_tasks: int(
      1,
      1_000_000,
      'Most tasks one `POST /v1/tasks/bulk` call may change; a filter selecting more is refused with 400 (narrow ' +
        'it). They are changed in chunks of 100, each its own transaction.',
    ),
    ui: z
      .strictObject({
        enabled: z
          .boolean()
          .describe(
            'Serve the web dashboard at `/ui` (the assets in `dist/ui`, built by `npm run build`). The page itself ' +
              'is public; everything it shows comes from the API under the same authentication.',
          ),
      })
      .describe('The web dashboard served by the API.'),
    auth: z
      .strictObject({
        enabled: z
          .boolean()
          .describe('Require credentials on every route except /health/live and /health/ready.'),
        api_keys: z.array(apiKeySchema).describe('API keys accepted in the `X-API-Key` header.'),
        jwt_hs256_secret: z
          .string()
          .describe('Shared secret for HS256 bearer tokens (empty = HS256 tokens are not accepted).'),
        jwt_rs256_public_key: z
          .string()
          .describe('PEM public key for RS256 bearer tokens (empty = none; see also jwt_jwks_url).'),
        jwt_jwks_url: z.string().describe('JWKS URL to fetch RS256 verification keys from (empty = none).'),
        jwt_issuer: z.string().describe('Required `iss` claim of bearer tokens (empty = not checked).'),
        jwt_audience: z.string().describe('Required `aud` claim of bearer tokens (empty = not checked).'),
        jwt_permissions_claim: z
          .string()
          .min(1)
          .describe("Claim holding the token's permissions (an array of permission strings)."),
      })
      .describe('Authentication and authorization of the REST API.'),
  })
  .describe('The REST API served by orchestration processes.');

/** `[orchestration]`. */
export const orchestrationSchema = z
  .strictObject({
    result_batch_size: int(1, 10_000, 'Maximum step results read from the results queue per batch.'),
    result_poll_interval_ms: int(
      10,
      HOUR_MS,
      'How often the results queue is polled when no notification arrives, in ms.',
    ),
    retry_poll_interval_ms: int(
      10,
      HOUR_MS,
      'How often steps whose retry delay has elapsed are looked for, in ms.',
    ),
    max_concurrent_result_batches: int(1, 64, 'Result batches processed at the same time.'),
    shutdown_timeout_ms: int(
      100,
      HOUR_MS,
      'On shutdown, how long in-flight result batches may take to finish before the process stops anyway, in ms.',
    ),
    decision_points: z
      .strictObject({
        max_depth: int(
          1,
          100,
          'How deeply decision steps may nest in a template (a decision inside a branch of another is depth 2). ' +
            'Templates over the limit are refused at registration.',
        ),
      })
      .describe('Decision points: steps whose handler chooses which branches run.'),
    staleness: z
      .strictObject({
        enabled: z
          .boolean()
          .describe('Look for tasks stuck in one state and move them to error with a DLQ entry.'),
        interval_ms: int(100, DAY_MS, 'How often to look for stuck tasks, in ms.'),
        batch_size: int(1, 10_000, 'Most tasks handled per run.'),
        dry_run: z.boolean().describe('Report stuck tasks in the log without changing anything.'),
        steps_in_process_seconds: int(
          1,
          30 * 24 * 3600,
          'A task whose steps have been running (or queued with no worker taking them) this long is stuck, in s.',
        ),
        waiting_for_retry_seconds: int(
          1,
          30 * 24 * 3600,
          'A task waiting this long for a retry is stuck, in s.',
        ),
        blocked_by_failures_seconds: int(
          1,
          30 * 24 * 3600,
          'A failing task still waiting for running steps this long is stuck, in s.',
        ),
        max_lifetime_seconds: int(60, 365 * 24 * 3600, 'Any unfinished task older than this is stuck, in s.'),
      })
      .describe('Detection of stuck tasks (the dead-letter queue receives them).'),
    backpressure: z
      .strictObject({
        enabled: z
          .boolean()
          .describe('Refuse new tasks (503 with Retry-After) while the engine is overloaded.'),
        evaluation_interval_ms: int(10, HOUR_MS, 'How often the overload verdict is refreshed, in ms.'),
        results_queue_critical_depth: int(
          1,
          100_000_000,
          'Step results waiting for orchestration at which new tasks are refused (the orchestrators cannot keep up).',
        ),
        channel_critical_saturation: num(
          0.5,
          1,
          'Fullness (0..1) of any monitored channel at which new tasks are refused.',
        ),
        retry_after_seconds: int(1, 3600, 'Retry-After sent with a refusal, in s.'),
      })
      .describe('Back-pressure at the edge: task creation is refused instead of queueing without bound.'),
    priority: z
      .strictObject({
        min: int(-1_000_000, 1_000_000, 'Lowest priority a task may be created with.'),
        max: int(-1_000_000, 1_000_000, 'Highest priority a task may be created with.'),
        default: int(-1_000_000, 1_000_000, 'Priority of a task created without one.'),
        head_start_ms_per_level: int(
          0,
          HOUR_MS,
          'Head start per priority level, in ms: a step of a task `n` levels above another is claimed before ' +
            "the other's steps enqueued up to `n` times this earlier. A step is never overtaken by work enqueued " +
            'more than `(max - min)` times this after it (the starvation bound). 0 = plain FIFO.',
        ),
      })
      .refine((p) => p.min <= p.default && p.default <= p.max, {
        message: 'priority must satisfy min <= default <= max',
        path: ['default'],
      })
      .describe(
        'Task priorities: higher runs first, with aging (see docs/architecture.md, "Priorities and aging"). ' +
          'Requests outside `min`..`max` are refused.',
      ),
    api: apiSchema,
    channels: z
      .strictObject({
        result_wakeups: channelSchema(
          'Wake-up signals for the result processor (from notifications and polls).',
        ),
      })
      .describe('In-process channels of the orchestration process.'),
  })
  .describe('Orchestration process (`orchestration.toml`).');
