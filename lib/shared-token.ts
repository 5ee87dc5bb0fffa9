import {randomUUID} from 'node:crypto';
import {type Identity, type TokenRequestReason, isStoreObserved, publishStoreEvent} from './diagnostics.js';
import {type Failed, type GuardEvent, GuardedStore, failed} from './guarded-store.js';
import {log} from './log.js';
import type {CachedToken} from './token.js';
import type {Obtained, TokenNeed, TokenSource} from './token-cache.js';
import {type StoreSlot, type TokenStore, defaultCommandTimeoutMs, defaultLockTtlMs, openToken, sealToken} from './token-store.js';

/**
 * How a wait for another process's token ended: its token was adopted, this process took the lock,
 * the holder failed (and this process fetched for itself), or the wait limit passed.
 *
 * @internal
 */
export type WaitOutcome = 'adopted' | 'lock-won' | 'holder-failed' | 'deadline';

/**
 * A store event worth watching.
 *
 * @internal
 */
export type StoreEvent =
	| {readonly event: 'adopted'; readonly reason: TokenRequestReason}
	| {readonly event: 'lock-won'; readonly reason: TokenRequestReason}
	| {readonly event: 'lock-waited'; readonly reason: TokenRequestReason; readonly waitedMs: number; readonly outcome: WaitOutcome}
	| {readonly event: 'unreadable'}
	| GuardEvent;

/** @internal */
export type SharedTokenOptions = {
	readonly store: TokenStore;
	readonly slot: StoreSlot;
	/**
	 * One fetch from the token endpoint, never cached. `waitedMs`: what this process already spent
	 * waiting for the fleet, which counts against `totalTimeoutMs`.
	 */
	readonly fetchToken: (reason: TokenRequestReason, waitedMs: number) => Promise<CachedToken>;
	/** When a token stops being usable (the round-1 rules, with this client's buffer). */
	readonly usableUntil: (token: CachedToken) => number;
	/** The longest one fetch of this client can take, its timeouts, retries and back-offs included. */
	readonly fetchBudgetMs: number;
	/** The longest one `obtain` may take, store commands and waits included (but for the final write). */
	readonly totalTimeoutMs: number;
	readonly now?: () => number;
	/** Who this client is, for the store channel's messages. */
	readonly identity: Identity;
};

/** While waiting for another process's token: poll this often at first (a fetch takes a few hundred ms)… */
const firstPollMs = 25;
/** …and no less often than this once the wait is long. */
const maxPollMs = 250;
/** Poll at the first rate this long. */
const eagerPollingMs = 1000;
/**
 * One process's wait for the lock holder's token. `marker` is the failure marker as it was when
 * the wait began: only a new one tells of a failure of the holder this process waits for.
 */
type Wait = {
	readonly started: number;
	/** When the wait began, on the monotonic clock that the time limits are measured on. */
	readonly since: number;
	readonly marker: string | undefined;
	poll: number;
	waited: boolean;
};

/** What a wait has cost so far: nothing unless it paused (its store commands alone do not count). */
function waitedMs(wait: Wait): number {
	return wait.waited ? performance.now() - wait.since : 0;
}

/**
 * The token of a fleet, shared through a {@link TokenStore}, as steps: adopt a usable entry; else
 * take the lock and fetch (renewing the lock meanwhile), writing the token before anyone hears of
 * it; else wait for the holder's token, or hear that the holder failed and fetch for itself. It
 * never does HTTP itself and never fails or waits because of the store ({@link GuardedStore}).
 *
 * @internal
 */
export class SharedToken implements TokenSource {
	readonly #store: GuardedStore;
	readonly #slot: StoreSlot;
	/** Where a failed holder tells the waiters: a key of its own, beside the entry's. */
	readonly #markerKey: string;
	readonly #fetchToken: (reason: TokenRequestReason, waitedMs: number) => Promise<CachedToken>;
	readonly #usableUntil: (token: CachedToken) => number;
	readonly #waitLimitMs: number;
	readonly #totalTimeoutMs: number;
	readonly #lockTtlMs: number;
	readonly #now: () => number;
	readonly #identity: Identity;

	constructor(options: SharedTokenOptions) {
		this.#slot = options.slot;
		this.#markerKey = `${options.slot.key}.failed`;
		this.#fetchToken = options.fetchToken;
		this.#usableUntil = options.usableUntil;
		this.#lockTtlMs = options.store.lockTtlMs ?? defaultLockTtlMs;
		// SPEC: waiting on another process costs at most what one's own fetch would, plus lockTtlMs.
		this.#waitLimitMs = options.fetchBudgetMs + this.#lockTtlMs;
		// …and waiting counts against totalTimeoutMs, like the fetch that may follow it.
		this.#totalTimeoutMs = options.totalTimeoutMs;
		this.#now = options.now ?? Date.now;
		this.#identity = options.identity;
		this.#store = new GuardedStore(options.store, {
			commandTimeoutMs: options.store.commandTimeoutMs ?? defaultCommandTimeoutMs,
			now: this.#now,
			report: {
				observed: () => this.#observed,
				emit: event => {
					this.#emit(event);
				},
			},
		});
	}

	/** A token for this process: adopted from the store, fetched under the fleet's lock, or waited for. */
	async obtain(need: TokenNeed): Promise<Obtained> {
		if (need.reason === 'cleared') {
			return this.#replace(need);
		}

		const found = await this.#adopt(need);
		if (found === failed) {
			return this.#fetchAlone(need);
		}

		return found ?? this.#lockOrWait(need);
	}

	/**
	 * Compare-and-clear after a 401: deletes the entry only while it still holds the value this
	 * process used, so a token another process already put there is kept. Never waits.
	 */
	discard(rejected: Obtained): void {
		if (rejected.sealed !== undefined) {
			void this.#store.delete(this.#slot.key, rejected.sealed);
		}
	}

	/**
	 * `clearCache()` asks for a fresh token from the endpoint, not the store's. The entry of the
	 * cleared token goes first (compare-and-delete), so no process adopts it meanwhile; the new token
	 * replaces it.
	 */
	async #replace(need: TokenNeed): Promise<Obtained> {
		const cleared = need.replaced?.sealed;
		if (cleared !== undefined) {
			await this.#store.delete(this.#slot.key, cleared);
		}

		return this.#fetchAndShare(need, 0);
	}

	/**
	 * Takes the fleet's lock and fetches, or waits for the holder's token until it comes, the holder
	 * fails, or the wait limit is reached. The wait counts against totalTimeoutMs: past it this
	 * process takes no lock and its fetch fails at once, saying so; else its fetch gets what is left.
	 */
	async #lockOrWait(need: TokenNeed): Promise<Obtained> {
		const marker = await this.#store.get(this.#markerKey);
		if (marker === failed) {
			return this.#fetchAlone(need);
		}

		const wait: Wait = {started: this.#now(), since: performance.now(), marker, poll: firstPollMs, waited: false};
		for (;;) {
			if (waitedMs(wait) >= this.#totalTimeoutMs) {
				// Not as the fleet's lock holder: its failure would tell every waiter to fetch alone.
				this.#waited(need, wait, 'deadline');
				return this.#fetchAndShare(need, waitedMs(wait));
			}

			const owner = randomUUID();
			const locked = await this.#store.lock(this.#slot.key, owner, this.#lockTtlMs);
			if (locked === failed) {
				return this.#fetchAlone(need);
			}

			if (locked) {
				this.#waited(need, wait, 'lock-won');
				return this.#fetchHolding(owner, need, waitedMs(wait));
			}

			if (this.#now() - wait.started >= this.#waitLimitMs) {
				// The holder is alive (it keeps its lock) but slower than this process's own fetch would be.
				this.#waited(need, wait, 'deadline');
				return this.#fetchAndShare(need, waitedMs(wait));
			}

			await this.#pause(wait, this.#totalTimeoutMs - waitedMs(wait));
			const found = await this.#adopt(need);
			if (found === failed) {
				return this.#fetchAlone(need);
			}

			if (found !== undefined) {
				this.#waited(need, wait, 'adopted');
				return found;
			}

			const latest = await this.#store.get(this.#markerKey);
			if (latest === failed) {
				return this.#fetchAlone(need);
			}

			if (latest !== undefined && latest !== wait.marker) {
				// Waiting on would make the waiters take the lock one after another, K fetch times for the last.
				this.#waited(need, wait, 'holder-failed');
				return this.#fetchAndShare(need, waitedMs(wait));
			}
		}
	}

	/** A usable entry of the store, `undefined` when there is none, or `failed`. */
	async #adopt(need: TokenNeed): Promise<Obtained | undefined | Failed> {
		const value = await this.#store.get(this.#slot.key);
		if (value === failed || value === undefined) {
			return value;
		}

		const token = openToken(value, this.#slot);
		if (token === undefined) {
			// Another key, another format or tampering: a miss; the next fetch overwrites it.
			if (this.#observed) {
				this.#emit({event: 'unreadable'});
			}

			return undefined;
		}

		const usable =
			token.accessToken !== need.rejected &&
			this.#now() < this.#usableUntil(token) &&
			(need.reason !== 'refresh' || need.current === undefined || token.obtainedAt > need.current.obtainedAt);
		if (!usable) {
			return undefined;
		}

		if (this.#observed) {
			this.#emit({event: 'adopted', reason: need.reason});
		}

		return {token, sealed: value};
	}

	/**
	 * Fetches for the fleet while holding the lock, renewing it. The token is in the store before
	 * the lock goes and before this process's callers hear of it; a failure is never shared: the
	 * waiters are told at once (a marker that says only that), then the lock goes.
	 */
	async #fetchHolding(owner: string, need: TokenNeed, waitedMs: number): Promise<Obtained> {
		if (this.#observed) {
			this.#emit({event: 'lock-won', reason: need.reason});
		}

		const renewal = setInterval(() => {
			void this.#store.extendLock(this.#slot.key, owner, this.#lockTtlMs);
		}, this.#lockTtlMs / 3);
		renewal.unref();
		try {
			// The previous holder may have written its token between this process's read and its lock.
			const found = await this.#adopt(need);
			if (found !== undefined && found !== failed) {
				return found;
			}

			return await this.#fetchAndShare(need, waitedMs);
		} catch (error) {
			// A new random value each time, which says nothing of the failure: a waiter tells it from an older one.
			await this.#store.set(this.#markerKey, randomUUID(), this.#lockTtlMs);
			throw error;
		} finally {
			clearInterval(renewal);
			void this.#store.unlock(this.#slot.key, owner);
		}
	}

	/**
	 * Fetches, then writes the token to the store before returning it (unless a clearCache() made it
	 * stale). `waitedMs`: what this process waited for another's token, which counts against
	 * totalTimeoutMs.
	 */
	async #fetchAndShare(need: TokenNeed, waitedMs: number): Promise<Obtained> {
		const token = await this.#fetchToken(need.reason, waitedMs);
		// A token fetched before a clearCache() answers its callers but is kept nowhere, here or there.
		const sealed = need.isCurrent() ? sealToken(token, this.#slot) : undefined;
		// The entry dies with the token: never a key without a TTL, never a token past its expiry.
		const ttlMs = Math.ceil(token.expiresAt - this.#now());
		if (sealed === undefined || ttlMs <= 0 || (await this.#store.set(this.#slot.key, sealed, ttlMs)) === failed) {
			// Not in the store: nothing there to compare-and-clear later.
			return {token};
		}

		return {token, sealed};
	}

	/** The store is failing: fetch as a process on its own, and leave the store alone. */
	async #fetchAlone(need: TokenNeed): Promise<Obtained> {
		return {token: await this.#fetchToken(need.reason, 0)};
	}

	/** Sleeps until the next poll, or until `leftMs` (of totalTimeoutMs) are gone if that is sooner. */
	async #pause(wait: Wait, leftMs: number): Promise<void> {
		wait.waited = true;
		await sleep(Math.max(0, Math.min(wait.poll * (0.75 + Math.random() / 2), leftMs)));
		if (this.#now() - wait.started >= eagerPollingMs) {
			wait.poll = Math.min(maxPollMs, wait.poll * 2);
		}
	}

	#waited(need: TokenNeed, wait: Wait, outcome: WaitOutcome): void {
		if (this.#observed && (wait.waited || outcome !== 'lock-won')) {
			this.#emit({event: 'lock-waited', reason: need.reason, waitedMs: this.#now() - wait.started, outcome});
		}
	}

	/** Whether anyone would see a store event: check before building one. */
	get #observed(): boolean {
		return log.enabled || isStoreObserved();
	}

	#emit(event: StoreEvent): void {
		if (log.enabled) {
			log('store: %s', JSON.stringify(event));
		}

		if (isStoreObserved()) {
			publishStoreEvent({...event, tokenUrl: this.#identity.tokenUrl, clientId: this.#identity.clientId});
		}
	}
}

async function sleep(milliseconds: number): Promise<void> {
	return new Promise(resolve => {
		setTimeout(resolve, milliseconds);
	});
}
