import type {AxiosStatic} from 'axios';

let provided: AxiosStatic | undefined;

/**
 * The axios this package uses for the token request: the one the ESM entry imported, or else
 * axios's CommonJS build, required on first use. Never at load: an ES module application would
 * otherwise load a second copy of axios (about +1.3 MB of heap and tens of ms of import time).
 *
 * @internal
 */
export function loadAxios(): AxiosStatic {
	// eslint-disable-next-line @typescript-eslint/no-require-imports -- lazily, and only when no axios was provided.
	provided ??= require('axios') as AxiosStatic;
	return provided;
}

/**
 * Hands over the axios that the ESM entry imported (the first one provided, or required, stays).
 *
 * @internal
 */
export function provideAxios(axios: AxiosStatic): void {
	provided ??= axios;
}

/**
 * Where the ESM entry finds {@link provideAxios}: a symbol on `Client`, so that no export name is
 * added for it.
 *
 * @internal
 */
export const provideAxiosKey = Symbol.for('vibrant-oauth2-client.provideAxios');
