import type {AxiosStatic} from 'axios';

let provided: AxiosStatic | undefined;
let importProvided: (() => Promise<AxiosStatic>) | undefined;

/**
 * The axios this package uses for the token request: the one the ESM entry imports (see
 * {@link prepareAxios}), or else axios's CommonJS build, required on first use. Never at load: an
 * ES module application would otherwise load a second copy of axios (about +1.3 MB of heap and tens
 * of ms of import time).
 *
 * @internal
 */
export function loadAxios(): AxiosStatic {
	// eslint-disable-next-line @typescript-eslint/no-require-imports -- lazily, and only when no axios was provided.
	provided ??= require('axios') as AxiosStatic;
	return provided;
}

/**
 * Imports the axios of the ESM entry, if it gave one and it is not in yet: the build awaits this
 * before a client's first token request, so that {@link loadAxios} then returns it.
 *
 * @internal
 */
export async function prepareAxios(): Promise<void> {
	if (provided === undefined && importProvided !== undefined) {
		const imported = await importProvided();
		provided ??= imported;
	}
}

/**
 * Takes the function with which the ESM entry imports the axios of the ES module world (the first one
 * given stays). It is called on the first token request, not at import: at import, resolving
 * `axios` from the ESM entry cost about as much as the rest of the entry.
 *
 * @internal
 */
export function provideAxios(importAxios: () => Promise<AxiosStatic>): void {
	importProvided ??= importAxios;
}

/**
 * Where the ESM entry finds {@link provideAxios}: a symbol on `Client`, so that no export name is
 * added for it.
 *
 * @internal
 */
export const provideAxiosKey = Symbol.for('vibrant-oauth2-client.provideAxios');
