// The build's stand-in for lib/token-store.ts in the core: the store's sealing and checks are
// required when a client is given a store (see ./stand-in.ts).
import type * as Module from '../token-store.js';
import {lazyFunction, withCore} from './stand-in.js';

let real: typeof Module | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- on first use: dist/cjs/token-store.js.
const load = () => (real ??= withCore(() => require('../token-store.js') as typeof Module));

/** @internal */
export const checkTokenStore = lazyFunction(() => load().checkTokenStore);
/** @internal */
export const storeSlot = lazyFunction(() => load().storeSlot);
