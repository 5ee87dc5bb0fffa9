import pMemoize from 'p-memoize';
import type {TokenRequestReason} from './diagnostics.js';
import {log} from './log.js';
import {type CachedToken, refreshAheadAt, usableUntil} from './token.js';

/**
 * What the cache knows when it needs a token, for the source to decide where to get it.
 *
 * @internal
 */
export type TokenNeed = {
	/** Why: no usable token, refresh ahead, after a 401, or after `clear()`. */
	readonly reason: TokenRequestReason;
	/** The value a 401 rejected last: never to be handed out again. */
	readonly rejected: string | undefined;
	/** The token being refreshed ahead: only a newer one is worth having. */
	readonly current: CachedToken | undefined;
	/** After `clear()`: what the source gave for the token that was cleared, so it can drop its copy. */
	readonly replaced: Obtained | undefined;
	/** Whether the token would still be kept (no `clear()` since the need arose). */
	readonly isCurrent: () => boolean;
};

/**
 * A token from a source, with whatever the source needs to recognise it later (a shared store
 * keeps the exact value it stored there). The cache hands it back and never looks inside.
 *
 * @internal
 */
export type Obtained = {readonly token: CachedToken; readonly sealed?: string | undefined};

/**
 * Where the cache gets a token on a miss: the token endpoint, or a store shared by a fleet in front
 * of it. The cache does not know which (golang/oauth2's caching token source knows only that it has
 * a token source).
 *
 * @internal
 */
export type TokenSource = {
	obtain(need: TokenNeed): Promise<Obtained>;
	/** A token of this source was rejected (401): drop any copy the source keeps elsewhere. */
	discard?(rejected: Obtained): void;
};

/**
 * The plain source: one fetch from the token endpoint per need.
 *
 * @internal
 */
export function fetchingSource(fetchToken: (reason: TokenRequestReason) => Promise<CachedToken>): TokenSource {
	return {
		async obtain(need) {
			return {token: await fetchToken(need.reason)};
		},
	};
}

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
 * Holds the current token and shares one fetch among concurrent callers. It never does I/O itself:
 * it asks the source it was given.
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
	readonly #source: TokenSource;
	/**
	 * Single flight: p-memoize shares the pending promise per generation and caches nothing else.
	 * The reason is the first caller's: it decides how the source is used.
	 */
	readonly #fetch: (generation: number, reason: TokenRequestReason) => Promise<string>;
	#generation = 0;
	#current: Obtained | undefined;
	/** Why the next miss happens. */
	#missReason: TokenRequestReason = 'miss';
	/** The last value a 401 rejected. */
	#rejected: string | undefined;
	/** What `clear()` dropped, until the next token replaces it. */
	#replaced: Obtained | undefined;
	/** The same settled promise for every hit, so a hit allocates nothing. */
	#currentValue: Promise<string> | undefined;
	#usableUntil = 0;
	#refreshAt: number | undefined;

	constructor(source: TokenSource, options: TokenCacheOptions) {
		this.#source = source;
		this.#now = options.now ?? Date.now;
		this.#expiryBufferSeconds = options.expiryBufferSeconds;
		this.#refreshAheadRatio = options.refreshAheadRatio;
		this.#onBackgroundError = options.onBackgroundError ?? (() => {});
		this.#fetch = pMemoize(
			async (generation: number, reason: TokenRequestReason) => {
				const obtained = await source.obtain({
					reason,
					rejected: this.#rejected,
					current: this.#current?.token,
					replaced: this.#replaced,
					isCurrent: () => generation === this.#generation,
				});
				if (generation === this.#generation) {
					this.#store(obtained);
				}

				return obtained.token.accessToken;
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

		return this.#current.token.accessToken;
	}

	/**
	 * The current token even past its usable life (it is still valid for the expiry buffer), or
	 * `undefined` after `clear()` or a 401; never does I/O, starts nothing.
	 */
	peek(): string | undefined {
		return this.#current?.token.accessToken;
	}

	/** Drops the token; fetches in flight may answer their callers but may not refill the cache. */
	clear(): void {
		log('cache cleared');
		this.#generation++;
		this.#replaced = this.#current ?? this.#replaced;
		this.#drop();
		this.#missReason = 'cleared';
	}

	/**
	 * Compare-and-clear: drops the cached token only if it is still `sentValue`, so many requests
	 * rejected with the same token cause one refetch. A fetch already in flight is newer than
	 * `sentValue` and is kept for the callers to share. The source drops its copies too.
	 */
	invalidate(sentValue: string): void {
		const rejected = this.#current;
		if (rejected?.token.accessToken === sentValue) {
			log('the cached token was rejected (401): dropped');
			this.#drop();
			this.#rejected = sentValue;
			this.#missReason = 'invalidated';
			this.#source.discard?.(rejected);
		}
	}

	#store(obtained: Obtained): void {
		const {token} = obtained;
		this.#current = obtained;
		this.#replaced = undefined;
		this.#missReason = 'miss';
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
		const current = this.#current;
		// Until this fetch settles, hits must not start another one.
		this.#refreshAt = undefined;
		log('refreshing the token ahead of expiry, in the background');
		this.#fetch(this.#generation, 'refresh').catch((error: unknown) => {
			// The old token stays until it really expires; try again after half its remaining life.
			if (this.#current === current) {
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
