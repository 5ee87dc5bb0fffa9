import {CachedToken} from '../lib/token.js';
import {TokenCache, fetchingSource} from '../lib/token-cache.js';
import {type Deferred, deferred} from './helpers/deferred.js';

/** A fetcher whose every call waits for the test to settle it, and a clock the test moves. */
function setup(options: {refreshAheadRatio?: number | false; expiryBufferSeconds?: number} = {}) {
	const clock = {now: 1_000_000};
	const calls: Array<Deferred<CachedToken>> = [];
	const backgroundErrors: unknown[] = [];
	const fetchToken = async () => {
		const call = deferred<CachedToken>();
		calls.push(call);
		return call.promise;
	};

	const cache = new TokenCache(fetchingSource(fetchToken), {
		expiryBufferSeconds: options.expiryBufferSeconds ?? 60,
		refreshAheadRatio: options.refreshAheadRatio ?? 0.8,
		now: () => clock.now,
		onBackgroundError(error) {
			backgroundErrors.push(error);
		},
	});
	/** Settles fetch number `index` with a token valid for `lifetimeSeconds` from now. */
	const answer = (index: number, value: string, lifetimeSeconds = 1060) => {
		calls[index]!.resolve(new CachedToken({accessToken: value, expiresAt: clock.now + lifetimeSeconds * 1000, obtainedAt: clock.now}));
	};

	return {clock, calls, cache, answer, backgroundErrors};
}

const flush = async () =>
	new Promise(resolve => {
		setImmediate(resolve);
	});

describe('TokenCache', () => {
	test('pending fetches are shared synchronously: 100 cold callers, one fetch', async () => {
		const {cache, calls, answer} = setup();
		const pending = Array.from({length: 100}, async () => cache.get());
		await flush();
		expect(calls).toHaveLength(1);
		answer(0, 'Bearer a');
		expect(await Promise.all(pending)).toEqual(Array.from({length: 100}, () => 'Bearer a'));
		expect(calls).toHaveLength(1);
	});

	test('a hit does no I/O and returns the same promise', async () => {
		const {cache, calls, answer} = setup();
		const first = cache.get();
		answer(0, 'Bearer a');
		await first;
		const hits = [cache.get(), cache.get()];
		expect(hits[0]).toBe(hits[1]);
		expect(await hits[0]).toBe('Bearer a');
		expect(cache.cached()).toBe('Bearer a');
		expect(calls).toHaveLength(1);
	});

	test('fetches again once the usable life is over (buffer of 60 s)', async () => {
		const {cache, calls, answer, clock} = setup({refreshAheadRatio: false});
		const first = cache.get();
		answer(0, 'Bearer a', 1060);
		await first;
		clock.now += 999_999;
		expect(await cache.get()).toBe('Bearer a');
		clock.now += 1;
		expect(cache.cached()).toBeUndefined();
		const second = cache.get();
		expect(calls).toHaveLength(2);
		answer(1, 'Bearer b');
		expect(await second).toBe('Bearer b');
	});

	test('a 30 s token is reused for 15 s, not refetched on every call', async () => {
		const {cache, calls, answer, clock} = setup({refreshAheadRatio: false});
		const first = cache.get();
		answer(0, 'Bearer a', 30);
		await first;
		clock.now += 14_999;
		expect(await cache.get()).toBe('Bearer a');
		expect(calls).toHaveLength(1);
		clock.now += 1;
		void cache.get();
		expect(calls).toHaveLength(2);
	});

	test('a failed fetch is not cached: every waiting caller gets the error, the next call tries again', async () => {
		const {cache, calls, answer} = setup();
		const waiting = [cache.get(), cache.get(), cache.get()];
		await flush();
		const failure = new Error('boom');
		calls[0]!.promise.catch(() => {});
		(calls[0] as unknown as {resolve: (value: unknown) => void}).resolve(Promise.reject(failure));
		const results = await Promise.allSettled(waiting);
		expect(results).toEqual(Array.from({length: 3}, () => ({status: 'rejected', reason: failure})));
		const retry = cache.get();
		await flush();
		expect(calls).toHaveLength(2);
		answer(1, 'Bearer b');
		expect(await retry).toBe('Bearer b');
	});

	test('clear() during a fetch: waiting callers get that token, later callers a new one, and the newer is kept', async () => {
		const {cache, calls, answer} = setup();
		const before = cache.get();
		await flush();
		cache.clear();
		const after = cache.get();
		await flush();
		expect(calls).toHaveLength(2);
		// The newer fetch settles first, then the stale one: the stale one must not overwrite it.
		answer(1, 'Bearer new');
		expect(await after).toBe('Bearer new');
		answer(0, 'Bearer old');
		expect(await before).toBe('Bearer old');
		expect(cache.cached()).toBe('Bearer new');
		expect(await cache.get()).toBe('Bearer new');
		expect(calls).toHaveLength(2);
	});

	test('clear() during a fetch that settles first still does not refill the cache', async () => {
		const {cache, calls, answer} = setup();
		const before = cache.get();
		await flush();
		cache.clear();
		answer(0, 'Bearer old');
		expect(await before).toBe('Bearer old');
		expect(cache.cached()).toBeUndefined();
		void cache.get();
		expect(calls).toHaveLength(2);
	});

	test('invalidate() clears only the token that was sent (compare-and-clear)', async () => {
		const {cache, calls, answer} = setup();
		const first = cache.get();
		answer(0, 'Bearer a');
		await first;
		cache.invalidate('Bearer stale');
		expect(cache.cached()).toBe('Bearer a');
		cache.invalidate('Bearer a');
		expect(cache.cached()).toBeUndefined();
		const next = Array.from({length: 50}, async () => {
			cache.invalidate('Bearer a');
			return cache.get();
		});
		await flush();
		expect(calls).toHaveLength(2);
		answer(1, 'Bearer b');
		expect(new Set(await Promise.all(next))).toEqual(new Set(['Bearer b']));
	});

	test('refresh ahead: past 80% of the usable life, the caller gets the cached token and one background fetch starts', async () => {
		const {cache, calls, answer, clock} = setup();
		const first = cache.get();
		answer(0, 'Bearer a', 1060);
		await first;
		clock.now += 799_999;
		expect(await cache.get()).toBe('Bearer a');
		expect(calls).toHaveLength(1);
		clock.now += 1;
		expect(await cache.get()).toBe('Bearer a');
		expect(await cache.get()).toBe('Bearer a');
		expect(calls).toHaveLength(2);
		answer(1, 'Bearer b', 1060);
		await flush();
		expect(await cache.get()).toBe('Bearer b');
		expect(calls).toHaveLength(2);
	});

	test('refresh ahead is shared with a caller that needs a token', async () => {
		const {cache, calls, answer, clock} = setup();
		const first = cache.get();
		answer(0, 'Bearer a', 1060);
		await first;
		clock.now += 800_000;
		expect(await cache.get()).toBe('Bearer a');
		clock.now += 200_000;
		const waiting = cache.get();
		expect(calls).toHaveLength(2);
		answer(1, 'Bearer b');
		expect(await waiting).toBe('Bearer b');
	});

	test('a failed background refresh keeps the old token, reaches no caller, and is retried later', async () => {
		const {cache, calls, answer, clock, backgroundErrors} = setup();
		const unhandled: unknown[] = [];
		const onUnhandled = (reason: unknown) => unhandled.push(reason);
		process.on('unhandledRejection', onUnhandled);
		try {
			const first = cache.get();
			answer(0, 'Bearer a', 1060);
			await first;
			clock.now += 900_000;
			expect(await cache.get()).toBe('Bearer a');
			const failure = new Error('endpoint down');
			(calls[1] as unknown as {resolve: (value: unknown) => void}).resolve(Promise.reject(failure));
			await flush();
			await flush();
			expect(backgroundErrors).toEqual([failure]);
			expect(unhandled).toEqual([]);
			// Still the old token; the next attempt waits half the remaining usable life (50 s).
			expect(await cache.get()).toBe('Bearer a');
			clock.now += 49_999;
			expect(await cache.get()).toBe('Bearer a');
			expect(calls).toHaveLength(2);
			clock.now += 1;
			expect(await cache.get()).toBe('Bearer a');
			expect(calls).toHaveLength(3);
		} finally {
			process.off('unhandledRejection', onUnhandled);
		}
	});

	test('hits during a background refresh start nothing more, and its failure is reported once', async () => {
		const {cache, calls, answer, clock, backgroundErrors} = setup();
		const first = cache.get();
		answer(0, 'Bearer a', 1060);
		await first;
		clock.now += 900_000;
		for (let hit = 0; hit < 5; hit++) {
			expect(cache.cached()).toBe('Bearer a');
		}

		expect(calls).toHaveLength(2);
		(calls[1] as unknown as {resolve: (value: unknown) => void}).resolve(Promise.reject(new Error('down')));
		await flush();
		await flush();
		expect(backgroundErrors).toHaveLength(1);
	});

	test('a failed background refresh waits at least 1 s before the next one', async () => {
		const {cache, calls, answer, clock} = setup({expiryBufferSeconds: 0});
		const first = cache.get();
		answer(0, 'Bearer a', 100);
		await first;
		// Refresh from 80 s; failing at 98.5 s, half the remaining life is 0.75 s, so 1 s applies.
		clock.now += 98_500;
		expect(cache.cached()).toBe('Bearer a');
		(calls[1] as unknown as {resolve: (value: unknown) => void}).resolve(Promise.reject(new Error('down')));
		await flush();
		await flush();
		clock.now += 999;
		expect(cache.cached()).toBe('Bearer a');
		expect(calls).toHaveLength(2);
		clock.now += 1;
		expect(cache.cached()).toBe('Bearer a');
		expect(calls).toHaveLength(3);
	});

	test('refreshAheadRatio false never fetches before the usable life ends', async () => {
		const {cache, calls, answer, clock} = setup({refreshAheadRatio: false});
		const first = cache.get();
		answer(0, 'Bearer a', 1060);
		await first;
		clock.now += 999_999;
		expect(await cache.get()).toBe('Bearer a');
		expect(calls).toHaveLength(1);
	});
});
