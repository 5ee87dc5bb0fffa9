import pMemoize from 'p-memoize';
import {log} from './log.js';
import {type CachedToken, refreshAheadAt, usableUntil} from './token.js';

/** @internal */
export type TokenCacheOptions = {
	readonly expiryBufferSeconds: number;
	readonly refreshAheadRatio: number | false;
	/** The clock, in epoch milliseconds; tests pass their own. */
	readonly now?: () => number;
	/** Told about background refresh failures, which reach no caller. */
	readonly onBackgroundError?: (error: unknown) => void;
};

/** After a failed background refresh, wait at least this long before the next one. */
const minimumRefreshRetryMs = 1000;

/**
 * Holds the current token and shares one fetch among concurrent callers. It never does HTTP
 * itself: it calls the fetcher it was given.
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
	/** Single flight: p-memoize shares the pending promise per generation and caches nothing else. */
	readonly #fetch: (generation: number) => Promise<string>;
	#generation = 0;
	#current: CachedToken | undefined;
	/** The same settled promise for every hit, so a hit allocates nothing. */
	#currentValue: Promise<string> | undefined;
	#usableUntil = 0;
	#refreshAt: number | undefined;

	constructor(fetchToken: () => Promise<CachedToken>, options: TokenCacheOptions) {
		this.#now = options.now ?? Date.now;
		this.#expiryBufferSeconds = options.expiryBufferSeconds;
		this.#refreshAheadRatio = options.refreshAheadRatio;
		this.#onBackgroundError = options.onBackgroundError ?? (() => {});
		this.#fetch = pMemoize(
			async (generation: number) => {
				const token = await fetchToken();
				if (generation === this.#generation) {
					this.#store(token);
				}

				return token.accessToken;
			},
			{cache: false},
		);
	}

	/** The cached token while it is usable, else the result of one shared fetch. */
	get(): Promise<string> {
		if (this.cached() === undefined || this.#currentValue === undefined) {
			log('cache miss: fetching a token, or joining the fetch in flight');
			return this.#fetch(this.#generation);
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

	/** Drops the token; fetches in flight may answer their callers but may not refill the cache. */
	clear(): void {
		log('cache cleared');
		this.#generation++;
		this.#drop();
	}

	/**
	 * Compare-and-clear: drops the cached token only if it is still `sentValue`, so many requests
	 * rejected with the same token cause one refetch. A fetch already in flight is newer than
	 * `sentValue` and is kept for the callers to share.
	 */
	invalidate(sentValue: string): void {
		if (this.#current?.accessToken === sentValue) {
			log('the cached token was rejected (401): dropped');
			this.#drop();
		}
	}

	#store(token: CachedToken): void {
		this.#current = token;
		this.#currentValue = Promise.resolve(token.accessToken);
		this.#usableUntil = usableUntil(token, this.#expiryBufferSeconds);
		this.#refreshAt = refreshAheadAt(token, this.#expiryBufferSeconds, this.#refreshAheadRatio);
	}

	#drop(): void {
		this.#current = undefined;
		this.#currentValue = undefined;
		this.#usableUntil = 0;
		this.#refreshAt = undefined;
	}

	#refreshInBackground(): void {
		const token = this.#current;
		// Until this fetch settles, hits must not start another one.
		this.#refreshAt = undefined;
		log('refreshing the token ahead of expiry, in the background');
		this.#fetch(this.#generation).catch((error: unknown) => {
			// The old token stays until it really expires; try again after half its remaining life.
			if (this.#current === token) {
				const now = this.#now();
				this.#refreshAt = now + Math.max(minimumRefreshRetryMs, (this.#usableUntil - now) / 2);
			}

			this.#onBackgroundError(error);
		});
	}
}
