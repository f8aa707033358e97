/**
 * The credential the dashboard signs in with: an API key (sent as `X-API-Key`) or a JWT (sent as
 * `Authorization: Bearer`). Kept in sessionStorage, so it lasts as long as the browser tab and no longer.
 */

/** A credential as the user pasted it, with how it is sent. */
export interface Credential {
  kind: 'api_key' | 'jwt';
  value: string;
}

const STORAGE_KEY = 'tasker.credential';

/** A JWT is three base64url segments; its header segment is JSON, so it starts with `eyJ` (`{"`). */
export function looksLikeJwt(value: string): boolean {
  return /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(value);
}

/** Reads what the user pasted: surrounding space and a leading `Bearer ` are dropped. */
export function parseCredential(input: string): Credential | undefined {
  const value = input.trim().replace(/^Bearer\s+/i, '');
  if (value === '') return undefined;
  return { kind: looksLikeJwt(value) ? 'jwt' : 'api_key', value };
}

/** The request headers that carry the credential. */
export function credentialHeaders(credential: Credential | undefined): Record<string, string> {
  if (!credential) return {};
  return credential.kind === 'jwt'
    ? { authorization: `Bearer ${credential.value}` }
    : { 'x-api-key': credential.value };
}

/** The credential stored for this tab, if any. */
export function loadCredential(storage: Storage = sessionStorage): Credential | undefined {
  const raw = storage.getItem(STORAGE_KEY);
  if (raw === null) return undefined;
  try {
    const parsed = JSON.parse(raw) as Partial<Credential>;
    if ((parsed.kind === 'api_key' || parsed.kind === 'jwt') && typeof parsed.value === 'string') {
      return { kind: parsed.kind, value: parsed.value };
    }
  } catch {
    // A value that is not ours is ignored and replaced at the next sign-in.
  }
  return undefined;
}

export function storeCredential(credential: Credential, storage: Storage = sessionStorage): void {
  storage.setItem(STORAGE_KEY, JSON.stringify(credential));
}

export function clearCredential(storage: Storage = sessionStorage): void {
  storage.removeItem(STORAGE_KEY);
}
