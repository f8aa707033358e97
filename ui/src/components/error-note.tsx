/** A failed request, said plainly: the server's message and its code. */
import type { ApiError } from '../api.js';

export function ErrorNote({ error, what }: { error: ApiError | undefined; what?: string }) {
  if (!error) return null;
  return (
    <div class="error-note" role="alert">
      <strong>{what ? `Could not ${what}` : 'Request failed'}:</strong> {error.message}{' '}
      <span class="muted">({error.code})</span>
    </div>
  );
}
