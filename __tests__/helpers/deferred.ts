/** A promise with its resolve function outside, to hold a server's answer until a test lets it go. */
export type Deferred<T = void> = {promise: Promise<T>; resolve: (value: T) => void};

export function deferred<T = void>(): Deferred<T> {
	let resolve!: (value: T) => void;
	const promise = new Promise<T>(settle => {
		resolve = settle;
	});
	return {promise, resolve};
}

/** Polls until `condition` holds (or fails the test after `timeoutMs`): for events on another socket. */
export async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!condition()) {
		if (Date.now() > deadline) {
			throw new Error('waitFor: the condition did not hold in time');
		}

		await new Promise(resolve => {
			setTimeout(resolve, 5);
		});
	}
}
