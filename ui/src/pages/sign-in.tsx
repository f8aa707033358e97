/**
 * Sign-in: paste an API key or a JWT. It is checked with `GET /v1/whoami` before it is kept (in sessionStorage,
 * for this tab only); a wrong one is refused with the server's reason and nothing is stored.
 */
import { useState } from 'preact/hooks';
import { Api, ApiError } from '../api.js';
import type { WhoAmI } from '../api-types.js';
import { parseCredential, type Credential } from '../credentials.js';

export interface SignInProps {
  onSignedIn: (credential: Credential, principal: WhoAmI) => void;
  /** Shown above the form, e.g. "your session expired". */
  notice?: string | undefined;
}

function refusal(e: unknown): string {
  if (e instanceof ApiError && e.status === 401) {
    return `This key or token was refused: ${e.message}. Check that you pasted all of it.`;
  }
  if (e instanceof ApiError) return `Could not sign in: ${e.message} (${e.code}).`;
  return `Could not sign in: ${(e as Error).message}`;
}

export function SignIn({ onSignedIn, notice }: SignInProps) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const credential = parseCredential(value);
    if (!credential) {
      setError('Paste an API key or a JWT first.');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const principal = await new Api(credential).whoami();
      onSignedIn(credential, principal);
    } catch (err) {
      setError(refusal(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <form class="signin-card" onSubmit={(e) => void submit(e)}>
        <div class="brand brand-large">
          <span class="brand-mark" />
          Tasker
        </div>
        <h1>Sign in to the dashboard</h1>
        <p class="muted">
          Paste an API key or a JWT. It stays in this browser tab only and is sent with every request, exactly
          as the API expects it.
        </p>
        {notice ? <p class="notice">{notice}</p> : null}
        <label class="field">
          <span>API key or JWT</span>
          <textarea
            name="credential"
            rows={3}
            autocomplete="off"
            spellcheck={false}
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
            placeholder="tk_live_… or eyJhbGciOi…"
          />
        </label>
        {error ? (
          <div class="error-note" role="alert">
            {error}
          </div>
        ) : null}
        <button type="submit" class="btn btn-primary btn-block" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
