import type { ValidationIssue } from '../errors.js';
import type { TaskerConfig } from './schema.js';

/**
 * Checks across keys that the schema cannot express on its own because each value is valid by itself, but the
 * combination leaves a deployment unusable. `tasker config validate` reports them; loading does not fail on
 * them, so a worker-only process is not held up by API settings it never uses.
 */
export function deploymentIssues(config: TaskerConfig): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const api = config.orchestration.api;
  const auth = api.auth;
  if (api.enabled && auth.enabled) {
    const hasKey = auth.api_keys.some((k) => k.key !== '');
    const hasJwt =
      auth.jwt_hs256_secret !== '' ||
      auth.jwt_rs256_public_key.trim() !== '' ||
      auth.jwt_jwks_url.trim() !== '';
    if (!hasKey && !hasJwt) {
      issues.push({
        path: 'orchestration.api.auth',
        message:
          'authentication is enabled but no API key or JWT verifier is configured, so every request would be ' +
          'refused: set TASKER_API_KEY (or an api_keys entry), or TASKER_JWT_SECRET, TASKER_JWT_PUBLIC_KEY or ' +
          'TASKER_JWT_JWKS_URL',
      });
    }
  }
  return issues;
}
