import pMemoize from 'p-memoize';
import {log} from './log.js';
import type {Identity} from './diagnostics.js';
import {type Obtained, type Reason, SharedToken} from './shared-token.js';
import {type CachedToken, refreshAheadAt, usableUntil} from './token.js';
import type {StoreSlot, TokenStore} from './token-store.js';

/** @internal */
export type TokenCacheOptions = {
	readonly expiryBufferSeconds: number;
	readonly refreshAheadRatio: number | false;
	/** The clock, in epoch milliseconds; tests pass their own. */
	readonly now?: () => number;
	/** Told about background refresh failures, which reach no caller. */
	readonly onBackgroundError?: (error: unknown) => void;
	/** A store shared with other processes, where this client's token lives. */
	readonly shared?:
		{readonly store: TokenStore; readonly slot: StoreSlot; readonly fetchBudgetMs: number; readonly identity: Identity} | undefined;
};

/** After a failed background refresh, wait at least this long before the next one. */
const minimumRefreshRetryMs = 1000;

/**
 * Holds the current token and shares one fetch among concurrent callers. It never does HTTP
 * itself: it calls the fetcher it was given. With a shared store, a fetch is first an attempt to
 * adopt another process's token, then one fetch for the fleet (see {@link SharedToken}).
 *
 * A generation counter orders fetches: `clear()` starts a new generation, so callers after it
 * get a new fetch, and a fetch of an older generation never writes its token over a newer one.
 *
 * @internal
 */
export class TokenCache {
	readonly #now: () => number;
	readonly #expiryBufferSeconds: number;
	readonly #refreshAheadRatio: number | false;
	readonly #onBackgroundError: (error: unknown) => void;
	/**
	 * Single flight: p-memoize shares the pending promise per generation and caches nothing else.
	 * The reason is the first caller's: it decides how the store is used.
	 */
	readonly #fetch: (generation: number, reason: Reason) => Promise<string>;
	readonly #shared: SharedToken | undefined;
	#generation = 0;
	#current: CachedToken | undefined;
	/** The value stored in the shared store for the current token, for compare-and-clear there. */
	#currentSealed: string | undefined;
	/** Why the next miss happens. */
	#missReason: Reason = 'miss';
	/** The last value a 401 rejected: the store's copy of it is never adopted. */
	#rejected: string | undefined;
	/** The same settled promise for every hit, so a hit allocates nothing. */
	#currentValue: Promise<string> | undefined;
	#usableUntil = 0;
	#refreshAt: number | undefined;

	constructor(fetchToken: (reason: Reason) => Promise<CachedToken>, options: TokenCacheOptions) {
		this.#now = options.now ?? Date.now;
		this.#expiryBufferSeconds = options.expiryBufferSeconds;
		this.#refreshAheadRatio = options.refreshAheadRatio;
		this.#onBackgroundError = options.onBackgroundError ?? (() => {});
		this.#shared =
			options.shared === undefined
				? undefined
				: new SharedToken({
						...options.shared,
						fetchToken,
						usableUntil: token => usableUntil(token, this.#expiryBufferSeconds),
						now: this.#now,
					});
		this.#fetch = pMemoize(
			async (generation: number, reason: Reason) => {
				const {token, sealed}: Obtained =
					this.#shared === undefined
						? {token: await fetchToken(reason)}
						: await this.#shared.obtain(reason, {
								rejected: this.#rejected,
								current: this.#current,
								isCurrent: () => generation === this.#generation,
							});
				if (generation === this.#generation) {
					this.#store(token, sealed);
				}

				return token.accessToken;
			},
			{cache: false, cacheKey: ([generation]) => generation},
		);
	}

	/**
	 * The cached token while it is usable, else the result of one shared fetch.
	 *
	 * A `signal` ends this caller's wait, never the fetch: an abort rejects at once with the
	 * signal's reason, and the fetch goes on for the other callers and fills the cache. An aborted
	 * signal wins even over a cached token (as fetch does), and starts nothing.
	 */
	get(signal?: AbortSignal | null): Promise<string> {
		if (signal?.aborted === true) {
			return Promise.reject(signal.reason as Error);
		}

		if (this.cached() === undefined || this.#currentValue === undefined) {
			log('cache miss: fetching a token, or joining the fetch in flight');
			const pending = this.#fetch(this.#generation, this.#missReason);
			return signal === undefined || signal === null ? pending : untilAborted(pending, signal);
		}

		return this.#currentValue;
	}

	/**
	 * The cached token while it is usable (starting a background refresh when one is due), else
	 * `undefined`; never does I/O and never waits.
	 */
	cached(): string | undefined {
		const now = this.#now();
		if (this.#current === undefined || now >= this.#usableUntil) {
			return undefined;
		}

		if (this.#refreshAt !== undefined && now >= this.#refreshAt) {
			this.#refreshInBackground();
		}

		if (log.enabled) {
			log('cache hit');
		}

		return this.#current.accessToken;
	}

	/**
	 * The current token even past its usable life (it is still valid for the expiry buffer), or
	 * `undefined` after `clear()` or a 401; never does I/O, starts nothing.
	 */
	peek(): string | undefined {
		return this.#current?.accessToken;
	}

	/** Drops the token; fetches in flight may answer their callers but may not refill the cache. */
	clear(): void {
		log('cache cleared');
		this.#generation++;
		this.#drop();
		this.#missReason = 'cleared';
	}

	/**
	 * Compare-and-clear: drops the cached token only if it is still `sentValue`, so many requests
	 * rejected with the same token cause one refetch. A fetch already in flight is newer than
	 * `sentValue` and is kept for the callers to share. In the shared store, the entry goes only if
	 * it still holds that token too.
	 */
	invalidate(sentValue: string): void {
		if (this.#current?.accessToken === sentValue) {
			log('the cached token was rejected (401): dropped');
			const sealed = this.#currentSealed;
			this.#drop();
			this.#rejected = sentValue;
			this.#missReason = 'invalidated';

			if (sealed !== undefined) {
				this.#shared?.discard(sealed);
			}
		}
	}

	#store(token: CachedToken, sealed: string | undefined): void {
		this.#current = token;
		this.#currentSealed = sealed;
		this.#missReason = 'miss';
		this.#currentValue = Promise.resolve(token.accessToken);
		this.#usableUntil = usableUntil(token, this.#expiryBufferSeconds);
		this.#refreshAt = refreshAheadAt(token, this.#expiryBufferSeconds, this.#refreshAheadRatio);
	}

	#drop(): void {
		this.#current = undefined;
		this.#currentSealed = undefined;
		this.#currentValue = undefined;
		this.#usableUntil = 0;
		this.#refreshAt = undefined;
	}

	#refreshInBackground(): void {
		const token = this.#current;
		// Until this fetch settles, hits must not start another one.
		this.#refreshAt = undefined;
		log('refreshing the token ahead of expiry, in the background');
		this.#fetch(this.#generation, 'refresh').catch((error: unknown) => {
			// The old token stays until it really expires; try again after half its remaining life.
			if (this.#current === token) {
				const now = this.#now();
				this.#refreshAt = now + Math.max(minimumRefreshRetryMs, (this.#usableUntil - now) / 2);
			}

			this.#onBackgroundError(error);
		});
	}
}

/** `pending`, or the signal's reason as soon as it aborts; `pending` itself goes on. */
async function untilAborted<T>(pending: Promise<T>, signal: AbortSignal): Promise<T> {
	return new Promise((resolve, reject) => {
		const onAbort = () => {
			reject(signal.reason as Error);
		};

		signal.addEventListener('abort', onAbort, {once: true});
		void pending.then(resolve, reject).finally(() => {
			signal.removeEventListener('abort', onAbort);
		});
	});
}
