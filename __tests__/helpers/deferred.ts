/** A promise with its resolve function outside, to hold a server's answer until a test lets it go. */
export type Deferred<T = void> = {promise: Promise<T>; resolve: (value: T) => void};

export function deferred<T = void>(): Deferred<T> {
	let resolve!: (value: T) => void;
	const promise = new Promise<T>(settle => {
		resolve = settle;
	});
	return {promise, resolve};
}
