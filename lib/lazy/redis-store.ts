// The build's stand-in for lib/redis-store.ts in the core: RedisTokenStore is required on the first
// `new RedisTokenStore(…)` (see ./stand-in.ts).
import type * as Module from '../redis-store.js';
import {lazyClass, withCore} from './stand-in.js';

let real: typeof Module | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- on first use: dist/cjs/redis-store.js.
const load = () => (real ??= withCore(() => require('../redis-store.js') as typeof Module));

/** @internal */
export const RedisTokenStore = lazyClass('RedisTokenStore', () => load().RedisTokenStore);
