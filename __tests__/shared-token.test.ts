import {Client} from '../lib/client.js';
import type {TokenStore} from '../lib/token-store.js';
import {waitFor} from './helpers/deferred.js';
import {type TokenServer, startTokenServer, tokenReply} from './helpers/token-server.js';

// The cross-process protocol against stores that misbehave in every way a shared store can: the
// store is an optimisation, never a new way to fail.

let tokens: TokenServer;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => {
	unhandled.push(reason);
};

beforeAll(async () => {
	tokens = await startTokenServer();
	process.on('unhandledRejection', onUnhandled);
});

afterAll(async () => {
	process.off('unhandledRejection', onUnhandled);
	await tokens.close();
});

beforeEach(() => {
	tokens.requests.length = 0;
	tokens.reply(tokenReply);
	unhandled.length = 0;
});

afterEach(async () => {
	// Late rejections of abandoned store calls would surface by now.
	await new Promise(resolve => {
		setTimeout(resolve, 50);
	});
	expect(unhandled).toEqual([]);
});

type Calls = Record<keyof Omit<TokenStore, 'commandTimeoutMs' | 'lockTtlMs' | 'encryptionKey'>, number>;

/** A store whose every method behaves as `behave` says, counting the calls. */
function storeThat(
	behave: (method: keyof Calls) => Promise<unknown>,
	settings: Partial<TokenStore> = {},
): {store: TokenStore; calls: Calls} {
	const calls: Calls = {get: 0, set: 0, delete: 0, lock: 0, extendLock: 0, unlock: 0};
	const method =
		<T>(name: keyof Calls) =>
		async (): Promise<T> => {
			calls[name]++;
			return behave(name) as Promise<T>;
		};
	return {
		calls,
		store: {
			get: method('get'),
			set: method('set'),
			delete: method('delete'),
			lock: method('lock'),
			extendLock: method('extendLock'),
			unlock: method('unlock'),
			...settings,
		},
	};
}

const clientWith = (store: TokenStore, options: object = {}) =>
	new Client({
		clientId: 'protocol-client',
		clientSecret: 'protocol-secret',
		tokenUrl: tokens.url,
		refreshAheadRatio: false,
		...options,
		store,
	});

describe('a store that fails', () => {
	// That the store is tried again once the back-off is over is proven on a clock in guarded-store.test.ts.
	test('a store that never answers costs commandTimeoutMs once, then is left alone for the back-off', async () => {
		const {store, calls} = storeThat(async () => new Promise(() => {}), {commandTimeoutMs: 100});
		const client = clientWith(store);
		const started = Date.now();
		expect(await client.getToken()).toBe('Bearer token-1');
		const elapsed = Date.now() - started;
		expect(elapsed).toBeGreaterThanOrEqual(95);
		expect(elapsed).toBeLessThan(1000);
		expect(calls).toEqual({get: 1, set: 0, delete: 0, lock: 0, extendLock: 0, unlock: 0});

		// During the back-off (1 s): neither a miss nor a clear touches the store, and nothing waits for it.
		client.clearCache();
		const second = Date.now();
		expect(await client.getToken()).toBe('Bearer token-2');
		expect(Date.now() - second).toBeLessThan(90);
		expect(calls.get + calls.set + calls.lock).toBe(1);
		expect(tokens.requests).toHaveLength(2);
	});

	test.each([
		['rejects', async () => Promise.reject(new Error('READONLY You cannot write against a read only replica.'))],
		[
			'throws synchronously',
			() => {
				throw new Error('boom');
			},
		],
	])('a store that %s is a miss: the token is fetched, no error, no unhandled rejection', async (_name, behave) => {
		const {store, calls} = storeThat(behave);
		const client = clientWith(store);
		expect(await Promise.all(Array.from({length: 10}, async () => client.getToken()))).toEqual(
			Array.from({length: 10}, () => 'Bearer token-1'),
		);
		expect(tokens.requests).toHaveLength(1);
		expect(calls.get).toBe(1);
	});

	test.each([
		['a token in clear', 'Bearer stolen'],
		['garbage', 'v1.garbage'],
		['a number', 42],
		['null', null],
	])('an entry holding %s is a miss, and the fetched token replaces it', async (_name, value) => {
		const {store, calls} = storeThat(method => Promise.resolve(method === 'get' ? value : method === 'lock' ? true : undefined));
		const client = clientWith(store);
		expect(await client.getToken()).toBe('Bearer token-1');
		expect(tokens.requests).toHaveLength(1);
		await new Promise(resolve => {
			setTimeout(resolve, 20);
		});
		expect(calls).toMatchObject({lock: 1, set: 1, unlock: 1});
	});
});

describe('waiting for another process', () => {
	test('a holder that never writes is waited for no longer than the own fetch budget plus lockTtlMs', async () => {
		// Someone else holds the lock for ever and never writes a token.
		const {store, calls} = storeThat(method => Promise.resolve(method === 'lock' ? false : undefined), {lockTtlMs: 300});
		const client = clientWith(store, {timeoutMs: 200, retries: 0});
		const started = Date.now();
		expect(await client.getToken()).toBe('Bearer token-1');
		const elapsed = Date.now() - started;
		expect(elapsed).toBeGreaterThanOrEqual(500);
		expect(elapsed).toBeLessThan(1500);
		expect(tokens.requests).toHaveLength(1);
		// It polled meanwhile, and shared what it fetched.
		expect(calls.get).toBeGreaterThan(5);
		expect(calls.set).toBe(1);
	});

	test('the holder extends its lock while it fetches', async () => {
		const {store, calls} = storeThat(method => Promise.resolve(method === 'lock' || method === 'extendLock' ? true : undefined), {
			lockTtlMs: 150,
		});
		const release = tokens.hold();
		const pending = clientWith(store).getToken();
		await new Promise(resolve => {
			setTimeout(resolve, 400);
		});
		release();
		expect(await pending).toBe('Bearer token-1');
		// Every lockTtlMs / 3 = 50 ms for about 400 ms.
		expect(calls.extendLock).toBeGreaterThanOrEqual(4);
		const extended = calls.extendLock;
		await new Promise(resolve => {
			setTimeout(resolve, 200);
		});
		expect(calls.extendLock).toBe(extended);
	});

	test('a store failure while the holder fetches does not keep its lock: the unlock is sent even during the back-off', async () => {
		const {store, calls} = storeThat(
			async method => (method === 'extendLock' ? Promise.reject(new Error('LOADING')) : method === 'lock' ? true : undefined),
			{lockTtlMs: 150},
		);
		const release = tokens.hold();
		const pending = clientWith(store).getToken();
		await new Promise(resolve => {
			setTimeout(resolve, 200);
		});
		release();
		expect(await pending).toBe('Bearer token-1');
		await waitFor(() => calls.unlock === 1);
		// The write waits for the back-off to end; the unlock did not.
		expect(calls.set).toBe(0);
		expect(calls.extendLock).toBeGreaterThanOrEqual(1);
	});
});
