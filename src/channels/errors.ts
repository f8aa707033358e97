import { brandErrorClass, ErrorCode, TaskerError } from '../errors.js';

/** A send was refused because the channel is at capacity (`reject` policy, or a `block` send timed out). */
export class ChannelFullError extends TaskerError {
  /** Name of the channel that was full. */
  readonly channel: string;
  constructor(channel: string, message: string) {
    super(ErrorCode.ChannelFull, message, { details: { channel } });
    this.channel = channel;
  }
}
brandErrorClass(ChannelFullError, 'ChannelFullError');

/** The channel or semaphore was closed; pending and later operations fail with this. */
export class ChannelClosedError extends TaskerError {
  /** Name of the closed channel or semaphore. */
  readonly channel: string;
  constructor(channel: string, message = `channel '${channel}' is closed`) {
    super(ErrorCode.ChannelClosed, message, { details: { channel } });
    this.channel = channel;
  }
}
brandErrorClass(ChannelClosedError, 'ChannelClosedError');
