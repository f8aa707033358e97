/** Axis scales for the overview's charts. */

/** A round upper bound for an axis showing values up to `max`: 1, 2, 5, 10, 20, 50, ... (at least 1). */
export function niceMax(max: number): number {
  if (!Number.isFinite(max) || max <= 1) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) {
    if (step * magnitude >= max) return step * magnitude;
  }
  return 10 * magnitude;
}

/** Overview windows: how far back, and the bucket size that gives 24..48 points. */
export const OVERVIEW_WINDOWS = [
  { key: '1h', label: '1 hour', windowMinutes: 60, bucketMinutes: 2 },
  { key: '6h', label: '6 hours', windowMinutes: 360, bucketMinutes: 10 },
  { key: '24h', label: '24 hours', windowMinutes: 1440, bucketMinutes: 30 },
  { key: '7d', label: '7 days', windowMinutes: 10080, bucketMinutes: 360 },
] as const;
