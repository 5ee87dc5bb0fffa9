import type {AxiosStatic} from 'axios';

let pending: Promise<AxiosStatic> | undefined;

/**
 * The axios this package uses for the token request and for axios's own errors: the application's
 * copy. On first use, never at load (resolving axios at load cost about 1.5 ms of every import). An
 * ES module application that got axios's CommonJS build too would hold a second copy (about +1.3 MB
 * of heap), whose errors are not `instanceof` the application's. A failure is not kept: the next
 * call tries again.
 *
 * @internal
 */
export async function loadAxios(): Promise<AxiosStatic> {
	pending ??= applicationAxios().catch((error: unknown) => {
		pending = undefined;
		throw error;
	});
	return pending;
}

/**
 * axios's CommonJS build when the application has required it already; else what `import('axios')`
 * gives (axios's ES module build, which an ES module application has loaded, or the module a
 * bundler made of axios); else, where this module system cannot import (a default Jest setup), the
 * CommonJS build. One file serves `import` and `require`, so which one loaded this package says
 * nothing here.
 */
async function applicationAxios(): Promise<AxiosStatic> {
	/* eslint-disable @typescript-eslint/no-require-imports -- lazily, and only when no other copy is the application's. */
	if (commonJsAxiosLoaded()) {
		return require('axios') as AxiosStatic;
	}

	try {
		// The same API under axios's ESM typings, which TypeScript holds apart from its CommonJS ones.
		return (await import('axios')).default as unknown as AxiosStatic;
	} catch {
		return require('axios') as AxiosStatic;
	}
	/* eslint-enable @typescript-eslint/no-require-imports */
}

function commonJsAxiosLoaded(): boolean {
	try {
		// A bundle may have no require.resolve, or no require.cache.
		return require.cache[require.resolve('axios')] !== undefined;
	} catch {
		return false;
	}
}

/**
 * Whether a value is an error of axios (of any copy of it): axios's own test.
 *
 * @internal
 */
export function isAxiosError(value: unknown): value is import('axios').AxiosError {
	return typeof value === 'object' && value !== null && (value as {isAxiosError?: unknown}).isAxiosError === true;
}
