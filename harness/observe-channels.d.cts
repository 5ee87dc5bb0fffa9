/** The channels as observeChannels() names them. */
export type ChannelName = 'token:start' | 'token:end' | 'token:asyncStart' | 'token:asyncEnd' | 'token:error' | 'unauthorized' | 'store';

/**
 * Subscribes to every channel of the package and hands each message to `onMessage` as it is
 * published; returns the function that unsubscribes.
 */
export function observeChannels(onMessage: (channel: ChannelName, message: unknown) => void): () => void;
