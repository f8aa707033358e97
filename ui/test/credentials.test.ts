import { describe, expect, it } from 'vitest';
import {
  clearCredential,
  credentialHeaders,
  loadCredential,
  looksLikeJwt,
  parseCredential,
  storeCredential,
} from '../src/credentials.js';

const jwt =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.c2lnbmF0dXJlLWJ5dGVz';

/** An in-memory Storage, as sessionStorage behaves. */
function memoryStorage(): Storage {
  const map = new Map<string, string>();
  return {
    get length() {
      return map.size;
    },
    clear: () => map.clear(),
    getItem: (k) => map.get(k) ?? null,
    key: (i) => [...map.keys()][i] ?? null,
    removeItem: (k) => void map.delete(k),
    setItem: (k, v) => void map.set(k, v),
  };
}

describe('credentials', () => {
  it('tells a JWT from an API key', () => {
    expect(looksLikeJwt(jwt)).toBe(true);
    expect(looksLikeJwt('tk_admin_secret')).toBe(false);
    expect(looksLikeJwt('a.b.c')).toBe(false);
    expect(parseCredential(`  Bearer ${jwt}\n`)).toEqual({ kind: 'jwt', value: jwt });
    expect(parseCredential(' admin-key ')).toEqual({ kind: 'api_key', value: 'admin-key' });
    expect(parseCredential('   ')).toBeUndefined();
  });

  it('sends an API key as X-API-Key and a JWT as a bearer token', () => {
    expect(credentialHeaders({ kind: 'api_key', value: 'k' })).toEqual({ 'x-api-key': 'k' });
    expect(credentialHeaders({ kind: 'jwt', value: jwt })).toEqual({ authorization: `Bearer ${jwt}` });
    expect(credentialHeaders(undefined)).toEqual({});
  });

  it('keeps the credential in the given storage and ignores foreign values', () => {
    const storage = memoryStorage();
    expect(loadCredential(storage)).toBeUndefined();
    storeCredential({ kind: 'api_key', value: 'k' }, storage);
    expect(loadCredential(storage)).toEqual({ kind: 'api_key', value: 'k' });
    clearCredential(storage);
    expect(loadCredential(storage)).toBeUndefined();
    storage.setItem('tasker.credential', 'not json');
    expect(loadCredential(storage)).toBeUndefined();
    storage.setItem('tasker.credential', '{"kind":"password","value":"x"}');
    expect(loadCredential(storage)).toBeUndefined();
  });
});
