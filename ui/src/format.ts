/** Formatting of times, durations, counts and JSON for display. */

/** A duration in the largest sensible units: `850 ms`, `4.2 s`, `3 m 12 s`, `2 h 5 m`, `3 d 4 h`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${Math.round(s - m * 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${m - h * 60} m`;
  const d = Math.floor(h / 24);
  return `${d} d ${h - d * 24} h`;
}

/** How long ago: `just now`, `12 s ago`, `5 m ago`, `3 h ago`, `2 d ago`. */
export function formatAgo(iso: string, now: number): string {
  const ms = now - Date.parse(iso);
  if (!Number.isFinite(ms)) return '–';
  if (ms < 5000) return 'just now';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} d ago`;
}

/** A timestamp in the browser's zone: `2024-05-01 14:03:07`. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** The time of day with milliseconds, for audit trails where steps follow each other fast: `14:03:07.215`. */
export function formatClock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** A count with thousands separators: `100,000`. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/**
 * A uuid shortened for lists: its first 8 and last 4 digits (`0191f0a2…c6c8`). Time-ordered (v7) uuids made
 * close together share their first digits, so the tail is what tells them apart. The full id is in the title
 * and on the task page.
 */
export function shortId(uuid: string): string {
  return uuid.length <= 13 ? uuid : `${uuid.slice(0, 8)}…${uuid.slice(-4)}`;
}

/** JSON for reading: indented, `undefined` as an empty string. */
export function prettyJson(value: unknown): string {
  if (value === undefined) return '';
  return JSON.stringify(value, null, 2) ?? '';
}

/** `1 task` / `37 tasks`. */
export function plural(n: number, word: string): string {
  return `${formatCount(n)} ${word}${n === 1 ? '' : 's'}`;
}
