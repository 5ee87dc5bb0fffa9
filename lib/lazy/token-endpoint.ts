// The build's stand-in for lib/token-endpoint.ts in the core: the token request (and axios-retry
// with it) is required on a client's first token request, not when the client is made (see
// ./stand-in.ts).
import {withCore} from './stand-in.js';
import type * as Module from '../token-endpoint.js';

let real: typeof Module | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- on first use: dist/cjs/token-endpoint.js.
const load = () => (real ??= withCore(() => require('../token-endpoint.js') as typeof Module));

type Fetcher = ReturnType<typeof Module.createTokenFetcher>;

/**
 * The real fetcher is built on the first fetch; until then nothing of the token request is loaded.
 *
 * @internal
 */
export const createTokenFetcher: typeof Module.createTokenFetcher = (...arguments_) => {
	let fetcher: Fetcher | undefined;
	return (...fetchArguments) => (fetcher ??= load().createTokenFetcher(...arguments_))(...fetchArguments);
};
