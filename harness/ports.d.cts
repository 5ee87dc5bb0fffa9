/** Whether `port` can be bound on 127.0.0.1 now. */
export function isFree(port: number): Promise<boolean>;

/** A loopback port free now (nothing listens there); with `withBusPort`, port + 10000 too (a Redis Cluster node's bus). */
export function freePort(options?: {readonly withBusPort?: boolean}): Promise<number>;
