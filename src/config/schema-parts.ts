/**
 * Building blocks shared by the configuration sections: bounded numbers that carry their description, time
 * units, and the schema of an in-process channel (every `[*.channels.<name>]` table).
 */
import { z } from 'zod';
import { OVERFLOW_POLICIES } from '../channels/channel-types.js';

/** One hour in ms. */
export const HOUR_MS = 3_600_000;
/** One day in ms. */
export const DAY_MS = 24 * HOUR_MS;

/** A whole number in `min`..`max` with its description. */
export function int(min: number, max: number, description: string) {
  return z.number().int().min(min).max(max).describe(description);
}

/** A number in `min`..`max` with its description. */
export function num(min: number, max: number, description: string) {
  return z.number().min(min).max(max).describe(description);
}

/** An in-process channel's table: capacity, overflow policy, send timeout. */
export function channelSchema(description: string) {
  return z
    .strictObject({
      capacity: int(1, 1_000_000, 'Maximum number of items buffered in the channel.'),
      overflow_policy: z
        .enum(OVERFLOW_POLICIES)
        .describe(
          'What a send does when the channel is full: `block` waits for space, `drop_oldest` evicts the ' +
            'oldest item, `drop_newest` discards the new item, `reject` fails the send with CHANNEL_FULL.',
        ),
      send_timeout_ms: int(
        0,
        HOUR_MS,
        'With `block`, how long a send may wait for space before failing with CHANNEL_FULL; 0 = wait forever.',
      ),
    })
    .describe(description);
}
