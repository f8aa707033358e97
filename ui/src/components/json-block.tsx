/** JSON shown for reading, in a scrollable monospace block. */
import { prettyJson } from '../format.js';

export function JsonBlock({ value, empty = 'none' }: { value: unknown; empty?: string }) {
  if (value === undefined || value === null) return <p class="muted">{empty}</p>;
  return <pre class="json">{prettyJson(value)}</pre>;
}
