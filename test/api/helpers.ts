import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { z } from 'zod';
import { createApiServer, type ApiServer, type ApiServerOptions } from '../../src/api/index.js';
import type { DeepPartial, TaskerConfig } from '../../src/config/index.js';
import type { TestDatabase } from '../support/db.js';
import { testConfig } from '../support/engine.js';

/** An API server on the test database (the pool stays the test database's). */
export async function startApi(
  db: TestDatabase,
  overrides: DeepPartial<TaskerConfig> = {},
  extra: Partial<ApiServerOptions> = {},
): Promise<ApiServer> {
  return createApiServer({ config: testConfig(db.url, overrides), pool: db.pool, ...extra });
}

/** Parses a JSON response body, checking it against a wire schema. */
export function bodyOf<T>(res: LightMyRequestResponse, schema: z.ZodType<T>): T {
  const parsed = schema.safeParse(res.json());
  if (!parsed.success) {
    throw new Error(`response does not match its schema: ${parsed.error.message}\n${res.body}`);
  }
  return parsed.data;
}

/** Asserts the standard error shape and returns it. */
export function expectError(
  res: LightMyRequestResponse,
  status: number,
  code: string,
): { code: string; message: string; details?: Record<string, unknown> } {
  expect(res.statusCode, res.body).toBe(status);
  const body = res.json<{ error: { code: string; message: string; details?: Record<string, unknown> } }>();
  expect(body.error.code, res.body).toBe(code);
  expect(typeof body.error.message).toBe('string');
  return body.error;
}
