import axios from 'axios';
import {Client, VibrantTokenError, attachVibrantAuth, type ClientOptions} from '../lib/index.js';
import {waitFor} from './helpers/deferred.js';
import {type MemoryStore, memoryStore} from './helpers/memory-store.js';
import {startTokenServer, type TokenServer} from './helpers/token-server.js';

// The fleet protocol's waits, with the processes of a fleet played by clients that share one
// store in this process (fleet.test.ts proves the same with real processes and a real Redis).

let tokens: TokenServer;
beforeEach(async () => {
	tokens = await startTokenServer();
});
afterEach(async () => {
	await tokens.close();
});

function processOf(store: MemoryStore, options: ClientOptions = {}): Client {
	return new Client({
		clientId: 'fleet-client',
		clientSecret: 'fleet-secret',
		tokenUrl: tokens.url,
		refreshAheadRatio: false,
		retries: 0,
		...options,
		store,
	});
}

/** The store's token entry (neither a lock nor a marker), if any. */
function tokenEntry(store: MemoryStore): string | undefined {
	for (const [key, entry] of store.entries) {
		if (!key.endsWith(':lock') && !key.endsWith('.failed') && entry.expiresAt > Date.now()) {
			return entry.value;
		}
	}

	return undefined;
}

describe('waiting on the lock holder', () => {
	test('8 processes behind a holder whose fetch fails after F: each fetches for itself, the last is done within 2.5 × F', async () => {
		const fetchMs = 1000;
		// F counts from the holder's request: the time the processes take to start is not the protocol's.
		let holderStarted: number | undefined;
		tokens.reply(() => {
			holderStarted ??= performance.now();
			return {status: 503, body: {error: 'temporarily_unavailable'}, delayMs: fetchMs};
		});
		const store = memoryStore();
		const fleet = Array.from({length: 8}, () => processOf(store));
		const outcomes = await Promise.allSettled(fleet.map(async client => client.getToken()));
		const elapsed = performance.now() - holderStarted!;
		for (const outcome of outcomes) {
			expect(outcome.status).toBe('rejected');
			expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(VibrantTokenError);
			expect(((outcome as PromiseRejectedResult).reason as VibrantTokenError).status).toBe(503);
		}

		// The holder's request, then one per waiting process; one after another they would take 8 × F.
		expect(tokens.requests).toHaveLength(8);
		expect(elapsed).toBeLessThan(2.5 * fetchMs);
		// A failure is never adopted, and the marker says nothing but that a holder failed.
		expect(tokenEntry(store)).toBeUndefined();
		const markers = [...store.entries].filter(([key]) => key.endsWith('.failed'));
		expect(markers.length).toBe(1);
		expect(markers[0]![1].ttlMs).toBe(5000);
		expect(markers[0]![1].value).toMatch(/^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/);
	});

	test('a marker left by an earlier failure does not stop the waiters: sharing resumes with one request', async () => {
		tokens.reply({status: 500, body: {error: 'server_error'}});
		const store = memoryStore();
		const fleet = Array.from({length: 4}, () => processOf(store));
		await Promise.allSettled(fleet.map(async client => client.getToken()));
		const failures = tokens.requests.length;
		tokens.reply({body: {access_token: 'token-1', token_type: 'bearer', expires_in: 3600}, delayMs: 200});
		const values = await Promise.all(fleet.map(async client => client.getToken()));
		expect(new Set(values)).toEqual(new Set(['Bearer token-1']));
		expect(tokens.requests).toHaveLength(failures + 1);
	});

	test("a waiter's abort ends its wait on another process's lock at once; the holder's token is adopted later", async () => {
		const release = tokens.hold();
		const store = memoryStore();
		const [holder, waiter] = [processOf(store), processOf(store)];
		const holding = holder.getToken();
		await waitFor(() => tokens.requests.length === 1);
		const controller = new AbortController();
		const waiting = waiter.getToken({signal: controller.signal});
		await new Promise(resolve => {
			setTimeout(resolve, 100);
		});
		const reason = new Error('the caller gave up');
		const aborted = performance.now();
		controller.abort(reason);
		await expect(waiting).rejects.toBe(reason);
		expect(performance.now() - aborted).toBeLessThan(250);
		release();
		expect(await holding).toBe('Bearer token-1');
		expect(await waiter.getToken()).toBe('Bearer token-1');
		expect(tokens.requests).toHaveLength(1);
	});
});

describe('waiting on the fleet counts against totalTimeoutMs', () => {
	// The holder is alive (it renews its lock) and its token request hangs; the waiter's limit is
	// 800 ms. Waiting on until its wait limit (its own longest fetch + lockTtlMs, 5.8 s here) and then
	// fetching for itself would take the waiter past 5.8 s.
	const totalTimeoutMs = 800;
	const waitingOn = async (store: MemoryStore) => {
		const release = tokens.hold();
		const holder = processOf(store, {timeoutMs: 10_000, totalTimeoutMs: 10_000});
		const holding = holder.getToken();
		await waitFor(() => tokens.requests.length === 1);
		return {holding, release};
	};

	test('getToken(): a waiter behind a holder whose request hangs gives up at totalTimeoutMs, without a request of its own', async () => {
		const store = memoryStore();
		const {holding, release} = await waitingOn(store);
		const started = performance.now();
		const error = (await processOf(store, {totalTimeoutMs})
			.getToken()
			.catch((error: unknown) => error)) as VibrantTokenError;
		const elapsed = performance.now() - started;
		expect(error).toBeInstanceOf(VibrantTokenError);
		expect(error.message).toMatch(
			/^Token request to http:\/\/127\.0\.0\.1:\d+\/v1\/oauth2\/token not sent: the total time limit totalTimeoutMs \(800 ms\) went by waiting for another process's token request \(\d+ ms\)\.$/,
		);
		expect(elapsed).toBeGreaterThanOrEqual(totalTimeoutMs - 5);
		expect(elapsed).toBeLessThan(1500);
		expect(tokens.requests).toHaveLength(1);
		release();
		expect(await holding).toBe('Bearer token-1');
	});

	test('a waiter whose holder failed fetches with what is left of totalTimeoutMs, and its error says how much went by waiting', async () => {
		// The holder's request fails after 300 ms; the waiter's own request hangs.
		tokens.reply({status: 503, body: {error: 'temporarily_unavailable'}, delayMs: 300}, 'hang');
		const store = memoryStore();
		const holding = processOf(store, {timeoutMs: 10_000, totalTimeoutMs: 10_000})
			.getToken()
			.catch((error: unknown) => error);
		await waitFor(() => tokens.requests.length === 1);
		const started = performance.now();
		const error = (await processOf(store, {timeoutMs: 10_000, totalTimeoutMs})
			.getToken()
			.catch((error: unknown) => error)) as VibrantTokenError;
		const elapsed = performance.now() - started;
		expect(await holding).toBeInstanceOf(VibrantTokenError);
		expect(error).toBeInstanceOf(VibrantTokenError);
		expect(error.message).toMatch(
			/gave up after 1 attempt: the total time limit totalTimeoutMs \(800 ms\) was reached \((2|3)\d\d ms of it went by waiting for another process's token request\)\. Last attempt: /,
		);
		expect(elapsed).toBeGreaterThanOrEqual(totalTimeoutMs - 5);
		expect(elapsed).toBeLessThan(1500);
		expect(tokens.requests).toHaveLength(2);
	});

	test('a store that does not answer costs no part of totalTimeoutMs: the process fetches alone with its whole budget', async () => {
		// Each command times out after commandTimeoutMs (500 ms), longer than this client's whole limit.
		const store = memoryStore({latencyMs: 1500});
		const client = processOf(store, {totalTimeoutMs: 400});
		expect(await client.getToken()).toBe('Bearer token-1');
		expect(tokens.requests).toHaveLength(1);
	});

	test('axios with no timeout (timeout: 0): the token wait behind such a holder ends at totalTimeoutMs; nothing is sent', async () => {
		const store = memoryStore();
		const {holding, release} = await waitingOn(store);
		const client = processOf(store, {totalTimeoutMs});
		const api = attachVibrantAuth(axios.create({baseURL: tokens.origin}), {client, origins: [tokens.origin]});
		const started = performance.now();
		const error: unknown = await api.get('/api/data').catch((error: unknown) => error);
		expect(error).toBeInstanceOf(VibrantTokenError);
		expect((error as VibrantTokenError).message).toContain('went by waiting for another process');
		expect(performance.now() - started).toBeLessThan(1500);
		// The holder's token request only: no API call, no token request of the waiter.
		expect(tokens.requests.map(request => request.path)).toEqual(['/v1/oauth2/token']);
		release();
		expect(await holding).toBe('Bearer token-1');
	});
});

describe('a replaced entry is replaced before the caller hears of it', () => {
	test('the lock holder: the store holds the token when getToken() resolves, even with a slow store', async () => {
		const store = memoryStore({latencyMs: 40});
		const token = await processOf(store).getToken();
		expect(tokenEntry(store)).toBeDefined();
		// Another process now adopts it without a request.
		expect(await processOf(store).getToken()).toBe(token);
		expect(tokens.requests).toHaveLength(1);
	});

	test('clearCache(): the entry of the cleared token goes before the new fetch, so no process adopts it meanwhile', async () => {
		const store = memoryStore({latencyMs: 5});
		const first = processOf(store);
		expect(await first.getToken()).toBe('Bearer token-1');
		const release = tokens.hold();
		first.clearCache();
		const fresh = first.getToken();
		await waitFor(() => tokens.requests.length === 2);
		expect(tokenEntry(store)).toBeUndefined();
		const other = processOf(store).getToken();
		await new Promise(resolve => {
			setTimeout(resolve, 100);
		});
		release();
		expect(await fresh).not.toBe('Bearer token-1');
		expect(await other).not.toBe('Bearer token-1');
	});

	test('clearCache() then getToken() in one process: the next process adopts the new token (20 rounds, a slow store)', async () => {
		const store = memoryStore({latencyMs: 15});
		const first = processOf(store);
		await first.getToken();
		for (let round = 0; round < 20; round++) {
			first.clearCache();
			const renewed = await first.getToken();
			const requests = tokens.requests.length;
			expect(await processOf(store).getToken()).toBe(renewed);
			expect(tokens.requests).toHaveLength(requests);
		}
	});
});
