/** A loopback port free now (nothing listens there); with `withBusPort`, port + 10000 too (a Redis Cluster node's bus). */
export function freePort(options?: {readonly withBusPort?: boolean}): Promise<number>;
