import {hasRedisServer} from '../../harness/redis-server.cjs';

/** `describe` when redis-server is installed, else `describe.skip` (global-setup.ts says so once, loudly). */
export const describeWithRedis = hasRedisServer() ? describe : describe.skip;
