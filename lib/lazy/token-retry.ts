// The build's stand-in for lib/token-retry.ts in the core: the retry rules are required with the
// token request, or when a client is given a store (its fetch budget) (see ./stand-in.ts).
import type * as Module from '../token-retry.js';
import {lazyFunction, withCore} from './stand-in.js';

let real: typeof Module | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- on first use: dist/cjs/token-retry.js.
const load = () => (real ??= withCore(() => require('../token-retry.js') as typeof Module));

/** @internal */
export const longestFetchMs = lazyFunction(() => load().longestFetchMs);
