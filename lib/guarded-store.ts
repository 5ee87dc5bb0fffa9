import type {TokenStore} from './token-store.js';

/**
 * What a store operation gives when it failed: it rejected, threw, or did not answer within
 * `commandTimeoutMs`, or the store is being left alone after a failure.
 *
 * @internal
 */
export const failed = Symbol('failed');

/** @internal */
export type Failed = typeof failed;

/**
 * What the guard reports: an operation failed (and the store is left alone for `backoffMs`), or
 * the store answered again after a failure.
 *
 * @internal
 */
export type GuardEvent =
	| {readonly event: 'failed'; readonly operation: string; readonly error: string; readonly backoffMs: number}
	| {readonly event: 'recovered'};

/** @internal */
export type GuardedStoreOptions = {
	readonly commandTimeoutMs: number;
	readonly now: () => number;
	/** Told of failures and recoveries; asked first whether anyone listens. */
	readonly report?: {readonly observed: () => boolean; readonly emit: (event: GuardEvent) => void};
};

const firstBackoffMs = 1000;
const maxBackoffMs = 10_000;

/**
 * A {@link TokenStore} behind a guard: an operation that rejects, throws or does not answer within
 * `commandTimeoutMs` gives {@link failed} instead of throwing or waiting, and starts a back-off
 * (1 s, doubling to 10 s) during which the store is not asked at all. A store is an optimisation,
 * never a new way to fail or to wait.
 *
 * @internal
 */
export class GuardedStore {
	readonly #store: TokenStore;
	readonly #commandTimeoutMs: number;
	readonly #now: () => number;
	readonly #report: GuardedStoreOptions['report'];
	#consecutiveFailures = 0;
	/** Every failure so far: an answer to a call sent before the last failure is no sign of recovery. */
	#failures = 0;
	#resumeAt = 0;

	constructor(store: TokenStore, options: GuardedStoreOptions) {
		this.#store = store;
		this.#commandTimeoutMs = options.commandTimeoutMs;
		this.#now = options.now;
		this.#report = options.report;
	}

	async get(key: string): Promise<string | undefined | Failed> {
		return this.#call('get', async () => this.#store.get(key));
	}

	async set(key: string, value: string, ttlMs: number): Promise<undefined | Failed> {
		return this.#call('set', async () => done(this.#store.set(key, value, ttlMs)));
	}

	async delete(key: string, value: string): Promise<undefined | Failed> {
		return this.#call('delete', async () => done(this.#store.delete(key, value)));
	}

	/**
	 * Takes the fetch lock for `owner`. A lock request that failed after it was sent (it timed out)
	 * may still reach the store and take the lock: it is released, best effort, so that it does not
	 * hold the others back for the lock's life.
	 */
	async lock(key: string, owner: string, ttlMs: number): Promise<boolean | Failed> {
		const attempt = {sent: false};
		const locked = await this.#call('lock', async () => {
			attempt.sent = true;
			return this.#store.lock(key, owner, ttlMs);
		});
		if (locked === failed && attempt.sent) {
			const unlock = async () => this.#store.unlock(key, owner);
			unlock().catch(() => {});
		}

		return locked;
	}

	async extendLock(key: string, owner: string, ttlMs: number): Promise<boolean | Failed> {
		return this.#call('extendLock', async () => this.#store.extendLock(key, owner, ttlMs));
	}

	/**
	 * Releases the lock, even during a back-off: a lock left behind would hold the other processes
	 * back for its whole life.
	 */
	async unlock(key: string, owner: string): Promise<undefined | Failed> {
		return this.#call('unlock', async () => done(this.#store.unlock(key, owner)), true);
	}

	/**
	 * Runs one store operation: a rejection, a throw or no answer within commandTimeoutMs is `failed`,
	 * starts a back-off during which the store is not asked at all (unless `evenInBackoff`), and never
	 * escapes.
	 */
	async #call<T>(operation: string, run: () => Promise<T>, evenInBackoff = false): Promise<T | Failed> {
		if (!evenInBackoff && this.#now() < this.#resumeAt) {
			return failed;
		}

		const failuresBefore = this.#failures;
		let timer: NodeJS.Timeout | undefined;
		const attempt = new Promise<T>(resolve => {
			resolve(run());
		});
		// An answer that comes after the timeout is dropped, a late rejection with it.
		attempt.catch(() => {});
		const timeout = new Promise<Failed>(resolve => {
			timer = setTimeout(resolve, this.#commandTimeoutMs, failed);
		});
		try {
			const result = await Promise.race([attempt, timeout]);
			if (result === failed) {
				this.#failed(operation, `no answer within ${this.#commandTimeoutMs} ms`);
			} else if (this.#consecutiveFailures > 0 && failuresBefore === this.#failures) {
				this.#consecutiveFailures = 0;
				if (this.#report?.observed() === true) {
					this.#report.emit({event: 'recovered'});
				}
			}

			return result;
		} catch (error) {
			this.#failed(operation, describeFailure(error));
			return failed;
		} finally {
			clearTimeout(timer);
		}
	}

	#failed(operation: string, error: string): void {
		this.#consecutiveFailures++;
		this.#failures++;
		const backoffMs = Math.min(maxBackoffMs, firstBackoffMs * 2 ** (this.#consecutiveFailures - 1));
		this.#resumeAt = this.#now() + backoffMs;
		if (this.#report?.observed() === true) {
			this.#report.emit({event: 'failed', operation, error, backoffMs});
		}
	}
}

async function done(operation: Promise<void>): Promise<undefined> {
	await operation;
	return undefined;
}

/** What a store error says, without its message: a message may quote what the command carried. */
function describeFailure(error: unknown): string {
	if (typeof error !== 'object' || error === null) {
		return typeof error;
	}

	const {name, code} = error as {name?: unknown; code?: unknown};
	const label = typeof name === 'string' ? name : 'Error';
	return typeof code === 'string' ? `${label} ${code}` : label;
}
