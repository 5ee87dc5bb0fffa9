// The build's stand-in for lib/fetch.ts in the core: the fetch integration is required on the
// first call of withVibrantAuth (see ./stand-in.ts). The fetch it returns is the real one.
import type * as Module from '../fetch.js';
import {lazyFunction, withCore} from './stand-in.js';

let real: typeof Module | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- on first use: dist/cjs/fetch.js.
const load = () => (real ??= withCore(() => require('../fetch.js') as typeof Module));

/** @internal */
export const withVibrantAuth = lazyFunction(() => load().withVibrantAuth);
