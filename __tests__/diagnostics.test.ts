import diagnosticsChannel from 'node:diagnostics_channel';
import {Readable} from 'node:stream';
import axios, {AxiosError} from 'axios';
import {attachVibrantAuth} from '../lib/axios.js';
import {Client, cacheOf} from '../lib/client.js';
import type {StoreEventMessage, TokenRequestTrace, UnauthorizedMessage} from '../lib/diagnostics.js';
import {VibrantTokenError} from '../lib/errors.js';
import {withVibrantAuth} from '../lib/fetch.js';
import type {TokenStore} from '../lib/token-store.js';
import {type ApiServer, startApiServer} from './helpers/api-server.js';
import {waitFor} from './helpers/deferred.js';
import {type TokenServer, startTokenServer, tokenReply} from './helpers/token-server.js';

let server: TokenServer;

beforeAll(async () => {
	server = await startTokenServer();
});

afterAll(async () => {
	await server.close();
});

beforeEach(() => {
	server.requests.length = 0;
	server.reply(tokenReply);
});

type Event = {kind: 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error'; context: TokenRequestTrace; snapshot: TokenRequestTrace};

/** Subscribes to the token tracing channel for one test; `only` subscribes to some of its channels. */
function traceTokens(only?: ReadonlyArray<Event['kind']>) {
	const events: Event[] = [];
	const kinds = only ?? (['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const);
	const handlers = kinds.map(kind => {
		const handler = (message: unknown) => {
			const context = message as TokenRequestTrace;
			events.push({kind, context, snapshot: {...context}});
		};

		// A TracingChannel's channels are named tracing:<name>:<event>.
		const name = `tracing:vibrant-oauth2-client:token:${kind}`;
		diagnosticsChannel.subscribe(name, handler);
		return () => {
			diagnosticsChannel.unsubscribe(name, handler);
		};
	});
	return {
		events,
		starts: () => events.filter(event => event.kind === 'start'),
		stop() {
			for (const unsubscribe of handlers) {
				unsubscribe();
			}
		},
	};
}

const options = {clientId: 'traced-client', clientSecret: 'traced-secret', refreshAheadRatio: false} as const;

describe('the tracing channel vibrant-oauth2-client:token', () => {
	test('one trace per token request: start, end, asyncStart, asyncEnd, with the result and no token', async () => {
		const trace = traceTokens();
		try {
			const client = new Client({...options, tokenUrl: `${server.url}?tenant=lab-7`, scope: 'orders:read'});
			const before = Date.now();
			await Promise.all(Array.from({length: 10}, async () => client.getToken()));
			await client.getToken();
			expect(trace.events.map(event => event.kind)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
			expect(trace.events[0]!.snapshot).toEqual({tokenUrl: server.url, clientId: 'traced-client', scope: 'orders:read', reason: 'miss'});
			const {result} = trace.events[3]!.snapshot;
			expect(result?.tokenType).toBe('Bearer');
			expect(result?.expiresAt).toBeGreaterThanOrEqual(before + 3_600_000);
			expect(result?.expiresAt).toBeLessThanOrEqual(Date.now() + 3_600_000);
			expect(JSON.stringify(trace.events.map(event => event.context))).not.toContain('token-1');
		} finally {
			trace.stop();
		}
	});

	test('the retries are inside the one trace', async () => {
		server.reply({status: 503}, {status: 503}, tokenReply);
		const trace = traceTokens();
		try {
			await new Client({...options, tokenUrl: server.url, retries: 2}).getToken();
			expect(server.requests).toHaveLength(3);
			expect(trace.starts()).toHaveLength(1);
		} finally {
			trace.stop();
		}
	});

	test('a failure ends the trace with the VibrantTokenError', async () => {
		server.reply({status: 401, body: {error: 'invalid_client'}});
		const trace = traceTokens();
		try {
			await expect(new Client({...options, tokenUrl: server.url}).getToken()).rejects.toThrow(VibrantTokenError);
			expect(trace.events.map(event => event.kind)).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
			const {error, result} = trace.events[2]!.snapshot;
			expect(error).toBeInstanceOf(VibrantTokenError);
			expect(error?.status).toBe(401);
			expect(result).toBeUndefined();
		} finally {
			trace.stop();
		}
	});

	test('the reason: miss, cleared, invalidated, refresh', async () => {
		server.reply((_request, index) => ({body: {access_token: `token-${index + 1}`, expires_in: index === 2 ? 2 : 3600}}));
		const trace = traceTokens();
		try {
			const client = new Client({...options, tokenUrl: server.url, expiryBufferSeconds: 0, refreshAheadRatio: 0.5});
			await client.getToken();
			client.clearCache();
			const second = await client.getToken();
			cacheOf(client).invalidate(second);
			// token-3 lives 2 s: past 1 s a call starts a background refresh.
			await client.getToken();
			await new Promise(resolve => {
				setTimeout(resolve, 1100);
			});
			expect(await client.getToken()).toBe('Bearer token-3');
			await new Promise(resolve => {
				setTimeout(resolve, 100);
			});
			expect(trace.starts().map(event => event.snapshot.reason)).toEqual(['miss', 'cleared', 'invalidated', 'refresh']);
			expect(server.requests).toHaveLength(4);
		} finally {
			trace.stop();
		}
	});

	test('published with a subscriber on one of its channels only (before Node 20.13, TracingChannel has no hasSubscribers)', async () => {
		const trace = traceTokens(['asyncEnd']);
		try {
			await new Client({...options, tokenUrl: server.url}).getToken();
			expect(trace.events.map(event => event.kind)).toEqual(['asyncEnd']);
		} finally {
			trace.stop();
		}
	});

	test('nothing is published when nobody listens, and a hit publishes nothing', async () => {
		const client = new Client({...options, tokenUrl: server.url});
		await client.getToken();
		const trace = traceTokens();
		try {
			await client.getToken();
			expect(trace.events).toEqual([]);
		} finally {
			trace.stop();
		}
	});
});

/** A store in memory (the README's, in short), whose `get` can be made to fail or return a value. */
function memoryStore() {
	const entries = new Map<string, string>();
	const faults: {get?: string} = {};
	const store: TokenStore = {
		async get(key) {
			await Promise.resolve();
			if (faults.get === 'reject') {
				throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379 with a message that is never passed on'), {
					code: 'ECONNREFUSED',
				});
			}

			return faults.get ?? entries.get(key);
		},
		async set(key, value) {
			await Promise.resolve();
			entries.set(key, value);
		},
		async delete(key, value) {
			await Promise.resolve();
			if (entries.get(key) === value) {
				entries.delete(key);
			}
		},
		async lock(key, owner) {
			await Promise.resolve();
			if (entries.has(`${key}:lock`)) {
				return false;
			}

			entries.set(`${key}:lock`, owner);
			return true;
		},
		async extendLock(key, owner) {
			await Promise.resolve();
			return entries.get(`${key}:lock`) === owner;
		},
		async unlock(key, owner) {
			await Promise.resolve();
			if (entries.get(`${key}:lock`) === owner) {
				entries.delete(`${key}:lock`);
			}
		},
	};
	return {store, faults};
}

describe('the channel vibrant-oauth2-client:store', () => {
	const messages: StoreEventMessage[] = [];
	const listener = (message: unknown) => {
		messages.push(message as StoreEventMessage);
	};

	beforeEach(() => {
		messages.length = 0;
		diagnosticsChannel.subscribe('vibrant-oauth2-client:store', listener);
	});

	afterEach(() => {
		diagnosticsChannel.unsubscribe('vibrant-oauth2-client:store', listener);
	});

	test('lock-won, lock-waited and adopted, each naming the client', async () => {
		const {store} = memoryStore();
		const first = new Client({...options, tokenUrl: server.url, store});
		const second = new Client({...options, tokenUrl: server.url, store});
		const release = server.hold();
		const pending = Promise.all([first.getToken(), second.getToken()]);
		await new Promise(resolve => {
			setTimeout(resolve, 100);
		});
		release();
		expect(await pending).toEqual(['Bearer token-1', 'Bearer token-1']);
		expect(server.requests).toHaveLength(1);
		expect(messages.map(message => message.event)).toEqual(['lock-won', 'adopted', 'lock-waited']);
		expect(messages[0]).toEqual({event: 'lock-won', reason: 'miss', tokenUrl: server.url, clientId: 'traced-client'});
		expect(messages[2]).toMatchObject({event: 'lock-waited', reason: 'miss', outcome: 'adopted'});
		expect(messages[2]!.waitedMs).toBeGreaterThanOrEqual(50);
		// A third client adopts at once.
		await new Client({...options, tokenUrl: server.url, store}).getToken();
		expect(messages.at(-1)).toEqual({event: 'adopted', reason: 'miss', tokenUrl: server.url, clientId: 'traced-client'});
	});

	test('unreadable, failed (with the back-off) and recovered; no store message is passed on', async () => {
		const {store, faults} = memoryStore();
		const client = new Client({...options, tokenUrl: server.url, store});
		faults.get = 'v1.not-a-sealed-token';
		await client.getToken();
		// Read, lock, read again under the lock (the previous holder may just have written), fetch.
		expect(messages.map(message => message.event)).toEqual(['unreadable', 'lock-won', 'unreadable']);
		faults.get = 'reject';
		client.clearCache();
		cacheOf(client).invalidate(await client.getToken());
		await client.getToken();
		expect(messages.at(-1)).toEqual({
			event: 'failed',
			operation: 'get',
			error: 'Error ECONNREFUSED',
			backoffMs: 1000,
			tokenUrl: server.url,
			clientId: 'traced-client',
		});
		delete faults.get;
		await new Promise(resolve => {
			setTimeout(resolve, 1050);
		});
		client.clearCache();
		await client.getToken();
		// The token is written to the store after the callers have it.
		await waitFor(() => messages.at(-1)?.event === 'recovered');
		expect(JSON.stringify(messages)).not.toContain('never passed on');
	});
});

describe('the channel vibrant-oauth2-client:unauthorized', () => {
	const messages: UnauthorizedMessage[] = [];
	const listener = (message: unknown) => {
		messages.push(message as UnauthorizedMessage);
	};

	let api: ApiServer;

	beforeEach(async () => {
		messages.length = 0;
		api = await startApiServer();
		diagnosticsChannel.subscribe('vibrant-oauth2-client:unauthorized', listener);
	});

	afterEach(async () => {
		diagnosticsChannel.unsubscribe('vibrant-oauth2-client:unauthorized', listener);
		await api.close();
	});

	const client = () => new Client({...options, tokenUrl: server.url});

	test('axios: one message per 401 it handles, retried or not; none for a 401 it did not cause', async () => {
		const instance = attachVibrantAuth(axios.create({baseURL: `${api.origin}/v1`}), {client: client()});
		await instance.get('/warm-up');
		api.revoke('Bearer token-1');
		expect((await instance.get('/orders/7?secret-query=1')).status).toBe(200);
		// A stream cannot be sent again: its 401 is reported as not retried.
		api.revoke('Bearer token-2');
		await expect(instance.post('/upload', Readable.from(['x']))).rejects.toThrow(AxiosError);
		// The retry's own 401.
		await expect(instance.get('/status/401')).rejects.toThrow(AxiosError);
		// The caller's own Authorization: not ours to handle.
		await expect(instance.get('/x', {headers: {Authorization: 'Bearer mine'}})).rejects.toThrow(AxiosError);
		expect(messages).toEqual([
			{integration: 'axios', method: 'GET', origin: api.origin, path: '/v1/orders/7', retried: true},
			{integration: 'axios', method: 'POST', origin: api.origin, path: '/v1/upload', retried: false},
			{integration: 'axios', method: 'GET', origin: api.origin, path: '/v1/status/401', retried: true},
			{integration: 'axios', method: 'GET', origin: api.origin, path: '/v1/status/401', retried: false},
		]);
		expect(JSON.stringify(messages)).not.toContain('token-');
	});

	test('fetch: the same messages', async () => {
		const authFetch = withVibrantAuth(fetch, {client: client(), origins: [api.origin]});
		await authFetch(`${api.origin}/v1/warm-up`);
		api.revoke('Bearer token-1');
		expect((await authFetch(`${api.origin}/v1/orders/7?secret-query=1`)).status).toBe(200);
		expect((await authFetch(`${api.origin}/v1/status/401`, {method: 'DELETE'})).status).toBe(401);
		expect((await authFetch(`${api.origin}/v1/x`, {headers: {authorization: 'Bearer mine'}})).status).toBe(401);
		expect(messages).toEqual([
			{integration: 'fetch', method: 'GET', origin: api.origin, path: '/v1/orders/7', retried: true},
			{integration: 'fetch', method: 'DELETE', origin: api.origin, path: '/v1/status/401', retried: true},
			{integration: 'fetch', method: 'DELETE', origin: api.origin, path: '/v1/status/401', retried: false},
		]);
	});
});
