import type {AxiosStatic} from 'axios';

let pending: Promise<AxiosStatic> | undefined;
let importAxios: (() => Promise<AxiosStatic>) | undefined;

/**
 * The axios this package uses for the token request and for axios's own errors: the one the ESM
 * entry imports, or else axios's CommonJS build, required. On first use, never at load: importing
 * axios from the ESM entry at load costs about 1.5 ms of every import, and an ES module application
 * that got axios's CommonJS build too would hold a second copy (about +1.3 MB of heap), whose
 * errors are not `instanceof` the application's. A failure is not kept: the next call tries again.
 *
 * @internal
 */
export async function loadAxios(): Promise<AxiosStatic> {
	pending ??= (async () => {
		// eslint-disable-next-line @typescript-eslint/no-require-imports -- lazily, and only when the ESM entry provided no axios.
		return importAxios === undefined ? (require('axios') as AxiosStatic) : importAxios();
	})().catch((error: unknown) => {
		pending = undefined;
		throw error;
	});
	return pending;
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
