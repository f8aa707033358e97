/**
 * Authentication (API keys, JWT bearer tokens) and permission checks of the REST API.
 *
 * Credentials are checked before the body is read, so an unauthenticated caller cannot make the server parse
 * (or buffer) a large body.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  importSPKI,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import type { TaskerConfig } from '../config/index.js';
import type { API_PERMISSIONS } from '../config/schema.js';
import { ApiError, ApiErrorCode } from './errors.js';

/** A permission a route can require. */
export type ApiPermission = (typeof API_PERMISSIONS)[number];

/** Who is calling, as established by {@link Authenticator.authenticate}. */
export interface Principal {
  /** API key name, JWT `sub`, or `anonymous` when auth is off. */
  name: string;
  /** How the caller authenticated. */
  method: 'none' | 'api_key' | 'jwt';
  /** Granted permissions; `*` grants all. */
  permissions: ReadonlySet<string>;
}

/** The principal of every request when auth is disabled. */
export const ANONYMOUS: Principal = Object.freeze({
  name: 'anonymous',
  method: 'none',
  permissions: new Set(['*']),
});

type AuthConfig = TaskerConfig['orchestration']['api']['auth'];

interface KeyEntry {
  name: string;
  digest: Buffer;
  permissions: ReadonlySet<string>;
}

/** Request headers the authenticator reads. */
export interface AuthHeaders {
  'x-api-key'?: string | string[] | undefined;
  authorization?: string | undefined;
}

function unauthenticated(message: string): ApiError {
  return new ApiError(401, ApiErrorCode.Unauthenticated, message, {
    headers: { 'www-authenticate': 'Bearer realm="tasker"' },
  });
}

function digest(value: string): Buffer {
  // Hashing first gives equal-length buffers, so timingSafeEqual never leaks the key length.
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Checks credentials against the configured API keys and JWT verification keys. */
export class Authenticator {
  readonly enabled: boolean;
  readonly #keys: KeyEntry[];
  readonly #hsSecret: Uint8Array | undefined;
  readonly #rsKey: CryptoKey | undefined;
  readonly #jwks: JWTVerifyGetKey | undefined;
  readonly #verifyOptions: JWTVerifyOptions;
  readonly #permissionsClaim: string;

  private constructor(config: AuthConfig, rsKey: CryptoKey | undefined, jwks: JWTVerifyGetKey | undefined) {
    this.enabled = config.enabled;
    this.#keys = config.api_keys
      .filter((k) => k.key.length > 0)
      .map((k) => ({ name: k.name, digest: digest(k.key), permissions: new Set(k.permissions) }));
    this.#hsSecret = config.jwt_hs256_secret ? new TextEncoder().encode(config.jwt_hs256_secret) : undefined;
    this.#rsKey = rsKey;
    this.#jwks = jwks;
    this.#permissionsClaim = config.jwt_permissions_claim;
    this.#verifyOptions = {
      requiredClaims: ['exp'],
      ...(config.jwt_issuer ? { issuer: config.jwt_issuer } : {}),
      ...(config.jwt_audience ? { audience: config.jwt_audience } : {}),
    };
  }

  /** Builds an authenticator; imports the RS256 PEM key up front so a bad key fails at startup. */
  static async create(config: AuthConfig): Promise<Authenticator> {
    let rsKey: CryptoKey | undefined;
    let jwks: JWTVerifyGetKey | undefined;
    if (config.enabled && config.jwt_rs256_public_key.trim()) {
      rsKey = await importSPKI(config.jwt_rs256_public_key.trim(), 'RS256');
    }
    if (config.enabled && config.jwt_jwks_url.trim()) {
      jwks = createRemoteJWKSet(new URL(config.jwt_jwks_url.trim()));
    }
    return new Authenticator(config, rsKey, jwks);
  }

  /**
   * Returns the caller's principal, or throws 401. With auth disabled every caller is {@link ANONYMOUS}.
   * A bearer token takes precedence over an API key when both are sent.
   */
  async authenticate(headers: AuthHeaders): Promise<Principal> {
    if (!this.enabled) return ANONYMOUS;
    const authorization = headers.authorization;
    if (authorization !== undefined && authorization !== '') {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!match) throw unauthenticated('the Authorization header must be "Bearer <token>"');
      return this.#verifyJwt(match[1]!);
    }
    const apiKey = headers['x-api-key'];
    if (apiKey !== undefined) {
      if (typeof apiKey !== 'string' || apiKey === '') throw unauthenticated('invalid API key');
      return this.#checkKey(apiKey);
    }
    throw unauthenticated('credentials required: send an X-API-Key header or an Authorization: Bearer token');
  }

  #checkKey(key: string): Principal {
    const given = digest(key);
    let found: KeyEntry | undefined;
    // Compare against every key (no early exit) so timing does not reveal which entry came close.
    for (const entry of this.#keys) {
      if (timingSafeEqual(entry.digest, given) && !found) found = entry;
    }
    if (!found) throw unauthenticated('invalid API key');
    return { name: found.name, method: 'api_key', permissions: found.permissions };
  }

  async #verifyJwt(token: string): Promise<Principal> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw unauthenticated('malformed bearer token');
    }
    const attempts: (() => Promise<JWTPayload>)[] = [];
    if (alg === 'HS256' && this.#hsSecret) {
      const secret = this.#hsSecret;
      attempts.push(
        async () =>
          (await jwtVerify(token, secret, { ...this.#verifyOptions, algorithms: ['HS256'] })).payload,
      );
    }
    if (alg === 'RS256') {
      const rsKey = this.#rsKey;
      const jwks = this.#jwks;
      if (rsKey) {
        attempts.push(
          async () =>
            (await jwtVerify(token, rsKey, { ...this.#verifyOptions, algorithms: ['RS256'] })).payload,
        );
      }
      if (jwks) {
        attempts.push(
          async () =>
            (await jwtVerify(token, jwks, { ...this.#verifyOptions, algorithms: ['RS256'] })).payload,
        );
      }
    }
    if (attempts.length === 0) {
      throw unauthenticated(`bearer tokens signed with ${alg ?? 'no algorithm'} are not accepted`);
    }
    let lastError: unknown;
    for (const attempt of attempts) {
      try {
        return this.#principalOf(await attempt());
      } catch (e) {
        lastError = e;
        // An expired or mis-addressed token is invalid whichever key verifies it: stop here.
        if (e instanceof joseErrors.JWTExpired) throw unauthenticated('bearer token has expired');
        if (e instanceof joseErrors.JWTClaimValidationFailed) {
          throw unauthenticated(`bearer token rejected: ${e.message}`);
        }
      }
    }
    if (lastError instanceof ApiError) throw lastError;
    throw unauthenticated('invalid bearer token');
  }

  #principalOf(payload: JWTPayload): Principal {
    const claim: unknown = payload[this.#permissionsClaim];
    let permissions: string[] = [];
    if (Array.isArray(claim)) permissions = claim.filter((p): p is string => typeof p === 'string');
    // OAuth-style space-separated scope strings are accepted too.
    else if (typeof claim === 'string') permissions = claim.split(/\s+/).filter(Boolean);
    return { name: payload.sub ?? 'jwt', method: 'jwt', permissions: new Set(permissions) };
  }
}

/** Throws 403 unless the principal holds `permission` (or `*`). */
export function authorize(principal: Principal, permission: ApiPermission): void {
  if (principal.permissions.has('*') || principal.permissions.has(permission)) return;
  throw new ApiError(403, ApiErrorCode.Forbidden, `missing permission ${permission}`, {
    details: { required: permission },
  });
}
