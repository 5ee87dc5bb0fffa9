// The build's stand-in for lib/token-endpoint.ts in the core: the token request (and axios-retry
// with it) is required on a client's first token request, not when the client is made (see
// ./stand-in.ts). In an ES module application, the axios the ESM entry hands over is imported then.
import {prepareAxios} from '../axios-module.js';
import type * as Module from '../token-endpoint.js';
import {lazyFunction} from './stand-in.js';

let real: typeof Module | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- on first use: dist/cjs/token-endpoint.js.
const load = () => (real ??= require('../token-endpoint.js') as typeof Module);

type Fetcher = ReturnType<typeof Module.createTokenFetcher>;

/**
 * The real fetcher is built on the first fetch; until then nothing of the token request is loaded.
 *
 * @internal
 */
export const createTokenFetcher: typeof Module.createTokenFetcher = (...arguments_) => {
	let fetcher: Fetcher | undefined;
	return async (...fetchArguments) => {
		if (fetcher === undefined) {
			await prepareAxios();
			fetcher ??= load().createTokenFetcher(...arguments_);
		}

		return fetcher(...fetchArguments);
	};
};

/** @internal */
export const longestFetchMs = lazyFunction(() => load().longestFetchMs);
