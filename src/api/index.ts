/** The REST API: server factory, wire schemas (shared with clients) and the pieces worth reusing. */
export {
  createApiServer,
  API_VERSION,
  type ApiServer,
  type ApiServerOptions,
  type DashboardStatus,
} from './server.js';
export { DEFAULT_UI_ROOT, UI_CONTENT_SECURITY_POLICY, UI_NOT_BUILT, UI_PATH } from './ui.js';
export type { EventStreamOptions } from './routes/events.js';
export { RESUME_MARGIN_MS, KEEP_ALIVE_MS } from './routes/events.js';
export { ApiError, ApiErrorCode, toErrorResponse, type ErrorResponse } from './errors.js';
export { Authenticator, authorize, ANONYMOUS, type ApiPermission, type Principal } from './auth.js';
export { buildOpenApi, type OpenApiDocument, type JsonValue } from './openapi.js';
export type { ApiRoute, ApiContext, RouteInput, ResponseSpec, BodySpec } from './route.js';
export * from './schemas.js';
