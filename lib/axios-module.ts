import type {AxiosStatic} from 'axios';

let axios: AxiosStatic | undefined;
let pending: Promise<AxiosStatic> | undefined;
let importAxios: (() => Promise<AxiosStatic>) | undefined;

/**
 * The axios this package uses for the token request and for axios's own errors: the one the ESM
 * entry imports, or else axios's CommonJS build, required. On first use, never at load: importing
 * axios from the ESM entry at load costs about 1.5 ms of every import, and an ES module application
 * that got axios's CommonJS build too would hold a second copy (about +1.3 MB of heap), whose
 * errors are not `instanceof` the application's.
 *
 * @internal
 */
export async function loadAxios(): Promise<AxiosStatic> {
	if (axios === undefined) {
		// eslint-disable-next-line @typescript-eslint/no-require-imports -- lazily, and only when the ESM entry provided no axios.
		pending ??= importAxios === undefined ? Promise.resolve(require('axios') as AxiosStatic) : importAxios();
		axios = await pending;
	}

	return axios;
}

/**
 * Hands over how the ESM entry imports axios (the first one provided stays).
 *
 * @internal
 */
export function provideAxios(importer: () => Promise<AxiosStatic>): void {
	importAxios ??= importer;
}

/**
 * Where the ESM entry finds {@link provideAxios}: a symbol on `Client`, so that no export name is
 * added for it.
 *
 * @internal
 */
export const provideAxiosKey = Symbol.for('vibrant-oauth2-client.provideAxios');

/**
 * Whether a value is an error of axios (of any copy of it): axios's own test.
 *
 * @internal
 */
export function isAxiosError(value: unknown): value is import('axios').AxiosError {
	return typeof value === 'object' && value !== null && (value as {isAxiosError?: unknown}).isAxiosError === true;
}
