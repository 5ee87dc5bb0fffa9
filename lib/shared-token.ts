import {randomUUID} from 'node:crypto';
import {type Identity, type TokenRequestReason, isStoreObserved, publishStoreEvent} from './diagnostics.js';
import {log} from './log.js';
import type {CachedToken} from './token.js';
import {type StoreSlot, type TokenStore, defaultCommandTimeoutMs, defaultLockTtlMs, openToken, sealToken} from './token-store.js';

/** @internal */
export type Reason = TokenRequestReason;

/**
 * A token and, when it was shared through the store, the exact value stored for it (what a
 * compare-and-clear after a 401 must find there).
 *
 * @internal
 */
export type Obtained = {readonly token: CachedToken; readonly sealed?: string | undefined};

/**
 * What the in-process cache knows when it needs a token.
 *
 * @internal
 */
export type ObtainContext = {
	/** The value a 401 rejected last: never adopted again. */
	readonly rejected: string | undefined;
	/** The token being refreshed ahead: only a newer one is adopted. */
	readonly current: CachedToken | undefined;
	/** Whether the token would still be kept (no `clearCache()` since the need arose). */
	readonly isCurrent: () => boolean;
};

/**
 * A store event worth watching.
 *
 * @internal
 */
export type StoreEvent =
	| {readonly event: 'adopted'; readonly reason: Reason}
	| {readonly event: 'lock-won'; readonly reason: Reason}
	| {
			readonly event: 'lock-waited';
			readonly reason: Reason;
			readonly waitedMs: number;
			readonly outcome: 'adopted' | 'lock-won' | 'deadline';
	  }
	| {readonly event: 'unreadable'}
	| {readonly event: 'failed'; readonly operation: string; readonly error: string; readonly backoffMs: number}
	| {readonly event: 'recovered'};

/** @internal */
export type SharedTokenOptions = {
	readonly store: TokenStore;
	readonly slot: StoreSlot;
	/** One fetch from the token endpoint, never cached. */
	readonly fetchToken: (reason: Reason) => Promise<CachedToken>;
	/** When a token stops being usable (the round-1 rules, with this client's buffer). */
	readonly usableUntil: (token: CachedToken) => number;
	/** The longest one fetch of this client can take, its timeouts and retries included. */
	readonly fetchBudgetMs: number;
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
const firstBackoffMs = 1000;
const maxBackoffMs = 10_000;

const failed = Symbol('failed');
type Failed = typeof failed;

/**
 * The token of a fleet, shared through a {@link TokenStore}: adopt a usable entry, else take the
 * lock and fetch (renewing the lock meanwhile), else wait for the holder's token. It never does
 * HTTP itself and never throws because of the store: every store failure, including a store slower
 * than `commandTimeoutMs`, is a miss, after which the store is left alone for a back-off.
 *
 * @internal
 */
export class SharedToken {
	readonly #store: TokenStore;
	readonly #slot: StoreSlot;
	readonly #fetchToken: (reason: Reason) => Promise<CachedToken>;
	readonly #usableUntil: (token: CachedToken) => number;
	readonly #waitLimitMs: number;
	readonly #commandTimeoutMs: number;
	readonly #lockTtlMs: number;
	readonly #now: () => number;
	readonly #identity: Identity;
	#consecutiveFailures = 0;
	#resumeAt = 0;

	constructor(options: SharedTokenOptions) {
		this.#store = options.store;
		this.#slot = options.slot;
		this.#fetchToken = options.fetchToken;
		this.#usableUntil = options.usableUntil;
		this.#commandTimeoutMs = options.store.commandTimeoutMs ?? defaultCommandTimeoutMs;
		this.#lockTtlMs = options.store.lockTtlMs ?? defaultLockTtlMs;
		// SPEC: waiting on another process costs at most what one's own fetch would, plus lockTtlMs.
		this.#waitLimitMs = options.fetchBudgetMs + this.#lockTtlMs;
		this.#now = options.now ?? Date.now;
		this.#identity = options.identity;
	}

	/** A token for this process: adopted from the store, fetched under the fleet's lock, or waited for. */
	async obtain(reason: Reason, context: ObtainContext): Promise<Obtained> {
		if (reason === 'cleared') {
			// clearCache() asks for a fresh token from the endpoint, not the store's; it then replaces the entry.
			return this.#fetchAndShare(reason, context);
		}

		const found = await this.#adopt(reason, context);
		if (found === failed) {
			return this.#fetchAlone(reason);
		}

		if (found !== undefined) {
			return found;
		}

		const started = this.#now();
		let waited = false;
		for (let poll = firstPollMs; ;) {
			const owner = randomUUID();
			const attempt = {sent: false};
			const locked = await this.#call('lock', async () => {
				attempt.sent = true;
				return this.#store.lock(this.#slot.key, owner, this.#lockTtlMs);
			});
			if (locked === failed) {
				if (attempt.sent) {
					this.#abandonLock(owner);
				}

				return this.#fetchAlone(reason);
			}

			if (locked) {
				if (waited && this.#observed) {
					this.#emit({event: 'lock-waited', reason, waitedMs: this.#now() - started, outcome: 'lock-won'});
				}

				return this.#fetchHolding(owner, reason, context);
			}

			if (this.#now() - started >= this.#waitLimitMs) {
				// The holder is alive (it keeps its lock) but slower than this process's own fetch would be.
				if (this.#observed) {
					this.#emit({event: 'lock-waited', reason, waitedMs: this.#now() - started, outcome: 'deadline'});
				}

				return this.#fetchAndShare(reason, context);
			}

			waited = true;
			await sleep(poll * (0.75 + Math.random() / 2));
			if (this.#now() - started >= eagerPollingMs) {
				poll = Math.min(maxPollMs, poll * 2);
			}

			const adopted = await this.#adopt(reason, context);
			if (adopted === failed) {
				return this.#fetchAlone(reason);
			}

			if (adopted !== undefined) {
				if (this.#observed) {
					this.#emit({event: 'lock-waited', reason, waitedMs: this.#now() - started, outcome: 'adopted'});
				}

				return adopted;
			}
		}
	}

	/**
	 * Compare-and-clear after a 401: deletes the entry only while it still holds `sealed`, the value
	 * this process used, so a token another process already put there is kept. Never waits.
	 */
	discard(sealed: string): void {
		void this.#call('delete', async () => this.#store.delete(this.#slot.key, sealed));
	}

	/** A usable entry of the store, `undefined` when there is none, or `failed`. */
	async #adopt(reason: Reason, context: ObtainContext): Promise<Obtained | undefined | Failed> {
		const value = await this.#call('get', async () => this.#store.get(this.#slot.key));
		if (value === failed) {
			return failed;
		}

		if (typeof value !== 'string') {
			return undefined;
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
			token.accessToken !== context.rejected &&
			this.#now() < this.#usableUntil(token) &&
			(reason !== 'refresh' || context.current === undefined || token.obtainedAt > context.current.obtainedAt);
		if (!usable) {
			return undefined;
		}

		if (this.#observed) {
			this.#emit({event: 'adopted', reason});
		}

		return {token, sealed: value};
	}

	async #fetchHolding(owner: string, reason: Reason, context: ObtainContext): Promise<Obtained> {
		if (this.#observed) {
			this.#emit({event: 'lock-won', reason});
		}

		const renewal = setInterval(() => {
			void this.#call('extendLock', async () => this.#store.extendLock(this.#slot.key, owner, this.#lockTtlMs));
		}, this.#lockTtlMs / 3);
		renewal.unref();
		let token: CachedToken;
		try {
			// The previous holder may have written its token between this process's read and its lock.
			const found = await this.#adopt(reason, context);
			if (found !== undefined && found !== failed) {
				this.#release(owner, undefined);
				return found;
			}

			token = await this.#fetchToken(reason);
		} catch (error) {
			// A failure is never shared: the lock goes, and the next process in line fetches for itself.
			this.#release(owner, undefined);
			throw error;
		} finally {
			clearInterval(renewal);
		}

		const sealed = this.#seal(token, context);
		this.#release(owner, sealed === undefined ? undefined : {sealed, token});
		return {token, sealed};
	}

	/** Fetches without the lock, then replaces the entry (clearCache(), or a holder too slow to wait for). */
	async #fetchAndShare(reason: Reason, context: ObtainContext): Promise<Obtained> {
		const token = await this.#fetchToken(reason);
		const sealed = this.#seal(token, context);
		if (sealed !== undefined) {
			void this.#write(sealed, token);
		}

		return {token, sealed};
	}

	/** The store is failing: fetch as a process on its own, and leave the store alone. */
	async #fetchAlone(reason: Reason): Promise<Obtained> {
		return {token: await this.#fetchToken(reason)};
	}

	#seal(token: CachedToken, context: ObtainContext): string | undefined {
		// A token fetched before a clearCache() answers its callers but is kept nowhere, here or there.
		return context.isCurrent() ? sealToken(token, this.#slot) : undefined;
	}

	/**
	 * Writes the token (if any), then unlocks: whoever sees the lock gone also sees the entry. The
	 * unlock is tried even during a back-off: a lock left behind would hold the other processes back
	 * for lockTtlMs, and nobody waits for it.
	 */
	#release(owner: string, entry: {sealed: string; token: CachedToken} | undefined): void {
		void (async () => {
			if (entry !== undefined) {
				await this.#write(entry.sealed, entry.token);
			}

			await this.#call('unlock', async () => this.#store.unlock(this.#slot.key, owner), true);
		})();
	}

	async #write(sealed: string, token: CachedToken): Promise<void> {
		// The entry dies with the token: never a key without a TTL, never a token past its expiry.
		const ttlMs = Math.ceil(token.expiresAt - this.#now());
		if (ttlMs > 0) {
			await this.#call('set', async () => this.#store.set(this.#slot.key, sealed, ttlMs));
		}
	}

	/**
	 * A lock request that failed (timed out) may still reach the store and take the lock: release it,
	 * best effort, so it does not hold the others back for lockTtlMs. Sent even during the back-off.
	 */
	#abandonLock(owner: string): void {
		const unlock = async () => this.#store.unlock(this.#slot.key, owner);
		unlock().catch(() => {});
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
			} else if (this.#consecutiveFailures > 0) {
				this.#consecutiveFailures = 0;
				if (this.#observed) {
					this.#emit({event: 'recovered'});
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
		const backoffMs = Math.min(maxBackoffMs, firstBackoffMs * 2 ** (this.#consecutiveFailures - 1));
		this.#resumeAt = this.#now() + backoffMs;
		if (this.#observed) {
			this.#emit({event: 'failed', operation, error, backoffMs});
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

/** What a store error says, without its message: a message may quote what the command carried. */
function describeFailure(error: unknown): string {
	if (typeof error !== 'object' || error === null) {
		return typeof error;
	}

	const {name, code} = error as {name?: unknown; code?: unknown};
	const label = typeof name === 'string' ? name : 'Error';
	return typeof code === 'string' ? `${label} ${code}` : label;
}

async function sleep(milliseconds: number): Promise<void> {
	return new Promise(resolve => {
		setTimeout(resolve, milliseconds);
	});
}
