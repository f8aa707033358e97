/**
 * The dashboard's access to the REST API: one method per endpoint it reads or acts through, with the signed-in
 * credential on every request. Errors come back as {@link ApiError} carrying the server's code and message.
 */
import type {
  BulkActionBody,
  BulkActionResult,
  DlqEntryBody,
  DlqListBody,
  HealthBody,
  OverviewBody,
  StepBody,
  StepDetailBody,
  TaskBody,
  TaskListBody,
  TemplateDetailBody,
  TemplateRunsBody,
  TemplateSummaryBody,
  WhoAmI,
} from './api-types.js';
import { credentialHeaders, type Credential } from './credentials.js';

/** A refused or failed request: the HTTP status and the server's error code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Query parameters of `GET /v1/tasks`. */
export type TaskQuery = Record<string, string | string[] | undefined>;

/** An operator action on a step. */
export type StepAction =
  | { action_type: 'reset_for_retry' | 'resolve_manually' | 'rerun_from'; reason: string }
  | { action_type: 'complete_manually'; reason: string; result: unknown };

function queryString(query: TaskQuery): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === '') continue;
    for (const v of Array.isArray(value) ? value : [value]) params.append(key, v);
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

const enc = encodeURIComponent;

/** Reads the standard error body `{ error: { code, message, details } }`, or makes one from the status. */
async function errorOf(res: Response): Promise<ApiError> {
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string; details?: unknown } };
    if (body.error?.code) {
      const details = body.error.details as Record<string, unknown> | undefined;
      return new ApiError(res.status, body.error.code, body.error.message ?? res.statusText, details);
    }
  } catch {
    // Not JSON: fall through to the status line.
  }
  return new ApiError(res.status, `HTTP_${res.status}`, `${res.status} ${res.statusText}`);
}

/** The REST API as the signed-in principal sees it. */
export class Api {
  /**
   * @param onUnauthorized told when a request is refused with 401 (the credential expired or was revoked), so
   * the app can ask for a new one.
   */
  constructor(
    readonly credential: Credential | undefined,
    private readonly onUnauthorized?: (error: ApiError) => void,
    private readonly base = '',
  ) {}

  /** Sends a request; `accept` lists non-2xx statuses whose JSON body is an answer, not an error. */
  async request<T>(method: string, path: string, body?: unknown, accept: number[] = []): Promise<T> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...credentialHeaders(this.credential),
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, 'NETWORK', `the server did not answer (${(e as Error).message})`);
    }
    if (!res.ok && !accept.includes(res.status)) {
      const error = await errorOf(res);
      if (error.status === 401) this.onUnauthorized?.(error);
      throw error;
    }
    return (await res.json()) as T;
  }

  whoami(): Promise<WhoAmI> {
    return this.request('GET', '/v1/whoami');
  }

  listTasks(query: TaskQuery): Promise<TaskListBody> {
    return this.request('GET', `/v1/tasks${queryString(query)}`);
  }

  getTask(taskUuid: string): Promise<TaskBody> {
    return this.request('GET', `/v1/tasks/${enc(taskUuid)}`);
  }

  getStep(taskUuid: string, stepUuid: string): Promise<StepDetailBody> {
    return this.request('GET', `/v1/tasks/${enc(taskUuid)}/steps/${enc(stepUuid)}`);
  }

  stepAction(taskUuid: string, stepUuid: string, action: StepAction): Promise<StepBody> {
    return this.request('PATCH', `/v1/tasks/${enc(taskUuid)}/steps/${enc(stepUuid)}`, action);
  }

  cancelTask(taskUuid: string, reason: string): Promise<TaskBody> {
    return this.request('DELETE', `/v1/tasks/${enc(taskUuid)}${queryString({ reason })}`);
  }

  bulk(body: BulkActionBody): Promise<BulkActionResult> {
    return this.request('POST', '/v1/tasks/bulk', body);
  }

  templates(): Promise<{ items: TemplateSummaryBody[] }> {
    return this.request('GET', '/v1/templates');
  }

  template(namespace: string, name: string, version?: string): Promise<TemplateDetailBody> {
    return this.request('GET', `/v1/templates/${enc(namespace)}/${enc(name)}${queryString({ version })}`);
  }

  templateRuns(namespace: string, name: string, version?: string, limit = 25): Promise<TemplateRunsBody> {
    const q = queryString({ version, limit: String(limit) });
    return this.request('GET', `/v1/templates/${enc(namespace)}/${enc(name)}/runs${q}`);
  }

  overview(windowMinutes: number, bucketMinutes: number): Promise<OverviewBody> {
    const q = queryString({ window_minutes: String(windowMinutes), bucket_minutes: String(bucketMinutes) });
    return this.request('GET', `/v1/overview${q}`);
  }

  /** `GET /health`; an unhealthy process answers 503 with the same body, which is shown, not thrown. */
  health(): Promise<HealthBody> {
    return this.request('GET', '/health', undefined, [503]);
  }

  dlq(query: TaskQuery): Promise<DlqListBody> {
    return this.request('GET', `/v1/dlq${queryString(query)}`);
  }

  updateDlq(
    entryUuid: string,
    body: { resolution_status?: string; resolution_notes?: string },
  ): Promise<DlqEntryBody> {
    return this.request('PATCH', `/v1/dlq/${enc(entryUuid)}`, body);
  }

  /** Opens a task's event stream (Server-Sent Events over fetch, so the credential header can be sent). */
  async openEvents(
    taskUuid: string,
    lastEventId: string | undefined,
    signal: AbortSignal,
  ): Promise<Response> {
    const headers: Record<string, string> = {
      accept: 'text/event-stream',
      ...credentialHeaders(this.credential),
    };
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    const res = await fetch(`${this.base}/v1/tasks/${enc(taskUuid)}/events`, { headers, signal });
    if (!res.ok) throw await errorOf(res);
    return res;
  }
}
