import type {AxiosStatic} from 'axios';

type Loaded = Promise<AxiosStatic> | undefined;
const loaded: {required: Loaded; imported: Loaded} = {required: undefined, imported: undefined};

/**
 * The axios this package uses for its token request: the application's copy as far as it can tell,
 * loaded on first use, never at load (resolving axios at load cost about 1.5 ms of every import).
 * One file serves `import` and `require`, so how this package was loaded says nothing; the entry
 * point of the process does. Its main module is an ES module (Node and Bun: `require.main` is
 * undefined, Deno: null): what `import('axios')` gives, axios's ES module build, which such an
 * application has loaded (a CommonJS dependency that required axios's CommonJS build does not
 * change that). Else axios's CommonJS build, as `require` gives it (in a CommonJS bundle, the
 * bundled axios the application requires too). Where this module system cannot import (a default
 * Jest setup), the CommonJS build. A failure is not kept: the next call tries again.
 *
 * @internal
 */
export async function loadAxios(): Promise<AxiosStatic> {
	return isModuleMain() ? importedAxios() : requiredAxios();
}

/**
 * The axios whose errors a request of the application gets: the copy the request comes from (its
 * headers are that copy's AxiosHeaders), so that they are `instanceof` the application's
 * `AxiosError` and `CanceledError`, even where {@link loadAxios} guessed the other copy (an ES module
 * application started by a CommonJS launcher, an ES module application bundled by webpack). The
 * other copy is loaded only when the request does not come from the first, so normally it is
 * loaded already.
 *
 * @internal
 */
export async function axiosOf(config: {readonly headers?: unknown}): Promise<AxiosStatic> {
	const first = await loadAxios();
	if (config.headers instanceof first.AxiosHeaders) {
		return first;
	}

	const other = await (isModuleMain() ? requiredAxios() : importedAxios()).catch(() => first);
	return config.headers instanceof other.AxiosHeaders ? other : first;
}

/** Whether the process's entry point is an ES module: `require.main` is undefined (Node, Bun) or null (Deno). */
function isModuleMain(): boolean {
	// Typed as always a module; it is not, from an ES module entry point.
	const main = require.main as NodeJS.Module | null | undefined;
	return main === undefined || main === null;
}

async function requiredAxios(): Promise<AxiosStatic> {
	loaded.required ??= forget(
		'required',
		new Promise(resolve => {
			// eslint-disable-next-line @typescript-eslint/no-require-imports -- lazily, on first use.
			resolve(require('axios') as AxiosStatic);
		}),
	);
	return loaded.required;
}

async function importedAxios(): Promise<AxiosStatic> {
	loaded.imported ??= forget(
		'imported',
		// The same API under axios's ESM typings, which TypeScript holds apart from its CommonJS ones.
		import('axios').then(
			module => module.default as unknown as AxiosStatic,
			async () => requiredAxios(),
		),
	);
	return loaded.imported;
}

async function forget(key: keyof typeof loaded, loading: Promise<AxiosStatic>): Promise<AxiosStatic> {
	return loading.catch((error: unknown) => {
		loaded[key] = undefined;
		throw error;
	});
}

/**
 * Whether a value is an error of axios (of any copy of it): axios's own test.
 *
 * @internal
 */
export function isAxiosError(value: unknown): value is import('axios').AxiosError {
	return typeof value === 'object' && value !== null && (value as {isAxiosError?: unknown}).isAxiosError === true;
}
