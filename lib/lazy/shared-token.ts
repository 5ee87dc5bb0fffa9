// The build's stand-in for lib/shared-token.ts in the core: the fleet protocol is required when a
// client with a store is made (see ./stand-in.ts).
import type * as Module from '../shared-token.js';
import {lazyClass, withCore} from './stand-in.js';

let real: typeof Module | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- on first use: dist/cjs/shared-token.js.
const load = () => (real ??= withCore(() => require('../shared-token.js') as typeof Module));

/** @internal */
export const SharedToken = lazyClass('SharedToken', () => load().SharedToken);
